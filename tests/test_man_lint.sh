#!/bin/sh
# test_man_lint.sh: every man page in the source tree's man/ directory
# (man/*.[1-8]) is `mandoc -T lint` clean: no message at any level, style
# included.  Skips (77) when mandoc is not installed.
set -u
src=${GP_TOP_SRCDIR:-$(dirname "$0")/..}
mandoc=$(command -v mandoc) || { echo "mandoc not found: skipping"; exit 77; }

status=0
count=0
for page in "$src"/man/*.[1-8]; do
    [ -f "$page" ] || continue
    count=$((count + 1))
    out=$("$mandoc" -T lint "$page" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        echo "FAIL: $page (mandoc exit $rc)"
        printf '%s\n' "$out"
        status=1
    else
        echo "ok: $page"
    fi
done
[ $count -gt 0 ] || { echo "FAIL: no man pages found in $src/man"; exit 1; }
exit $status
