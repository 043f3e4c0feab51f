#!/bin/sh
# test_man_lint.sh: every man page in the source tree's man/ directory
# (man/*.[1-8]), and every page the build makes from a man/*.[1-8].in (in
# the build directory, with its installation paths), is `mandoc -T lint`
# clean: no message at any level, style included.  Skips (77) when mandoc
# is not installed.  One message is not
# about the page but about this machine's man database ("outdated
# mandoc.db lacks ds9(1) entry" for a cross-reference to a page installed
# without running makewhatis); it is ignored.
set -u
src=${GP_TOP_SRCDIR:-$(dirname "$0")/..}
top=${GP_TOP_BUILDDIR:-$src}
mandoc=$(command -v mandoc) || { echo "mandoc not found: skipping"; exit 77; }

status=0
count=0
for page in "$src"/man/*.[1-8] "$src"/man/*.[1-8].in; do
    case $page in
    *.in) [ -f "$page" ] || continue
          in=$page; page=$top/man/$(basename "$page" .in)
          [ -f "$page" ] || { echo "FAIL: $in: no $page made from it"; status=1; continue; } ;;
    esac
    [ -f "$page" ] || continue
    count=$((count + 1))
    out=$("$mandoc" -T lint "$page" 2>&1)
    rc=$?
    out=$(printf '%s\n' "$out" | grep -v 'outdated mandoc.db lacks .* entry, run makewhatis')
    [ $rc -eq 0 ] || [ -n "$out" ] || rc=0
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
