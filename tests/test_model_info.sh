#!/bin/sh
# test_model_info.sh: `galpost model info FILE` on a file written by the
# library (tests/test_weights --write-example) prints the header, every
# metadata key and every tensor; bad files exit 1 with a message naming the
# file, usage errors exit 2.
set -u
top=${GP_TOP_BUILDDIR:?GP_TOP_BUILDDIR is not set (run through make check)}
galpost=$top/galpost
writer=$top/tests/test_weights
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gp_model_info.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

"$writer" --write-example "$tmp/m.gpw" || { echo "cannot write the example file" >&2; exit 99; }

"$galpost" model info "$tmp/m.gpw" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || fail "model info exited $rc: $(cat "$tmp/err")"
for word in "$tmp/m.gpw" "version 1" "CRC-32" \
        model.name model.seed stretch.q stretch.a arch.widths norm.mean \
        norm.long empty \
        enc.conv1.weight enc.conv1.bias flow.0.scale flow.1.scale \
        "[4, 3, 2, 2]" "[3, 5]" "[5, 3]" \
        "[64, -9223372036854775808, 9223372036854775807]" "(40 values)" \
        "total: 83 parameters, 332 bytes"; do
    grep -F -q -e "$word" "$tmp/out" || fail "output lacks '$word'"
done
# the one-element tensor 'z' is on a line of its own
grep -E -q '^  z +F32 +\[1\] +1 ' "$tmp/out" || fail "output lacks tensor 'z'"

# a corrupt copy: one byte flipped near the end, checksum not repaired
cp "$tmp/m.gpw" "$tmp/bad.gpw"
size=$(wc -c <"$tmp/bad.gpw")
printf '\377' | dd of="$tmp/bad.gpw" bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null
"$galpost" model info "$tmp/bad.gpw" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "corrupt file: exit $rc, expected 1"
grep -F -q "$tmp/bad.gpw" "$tmp/err" || fail "corrupt file: message does not name the file"
grep -F -q "checksum" "$tmp/err" || fail "corrupt file: message does not say checksum"

"$galpost" model info "$tmp/absent.gpw" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "missing file: exit $rc, expected 1"
grep -F -q "$tmp/absent.gpw" "$tmp/err" || fail "missing file: message does not name the file"

# usage errors and help
"$galpost" model info >/dev/null 2>&1;              rc=$?; [ $rc -eq 2 ] || fail "no FILE: exit $rc"
"$galpost" model info a b >/dev/null 2>&1;          rc=$?; [ $rc -eq 2 ] || fail "two FILEs: exit $rc"
"$galpost" model info --bogus >/dev/null 2>&1;      rc=$?; [ $rc -eq 2 ] || fail "bad option: exit $rc"
"$galpost" model frobnicate >/dev/null 2>&1;        rc=$?; [ $rc -eq 2 ] || fail "bad action: exit $rc"
"$galpost" model >/dev/null 2>&1;                   rc=$?; [ $rc -eq 2 ] || fail "no action: exit $rc"
"$galpost" model --help >"$tmp/out" 2>&1;           rc=$?; [ $rc -eq 0 ] || fail "model --help: exit $rc"
grep -q 'info FILE' "$tmp/out" || fail "model --help does not list 'info FILE'"
"$galpost" model info --help >"$tmp/out" 2>&1;      rc=$?; [ $rc -eq 0 ] || fail "info --help: exit $rc"
grep -q 'usage: galpost model info FILE' "$tmp/out" || fail "info --help lacks the usage line"
# an unknown option: every command's message starts with its whole name, getopt's included
# ("random: unrecognized option" named neither galpost nor model)
for cmd in "model random" "model info" eval infer shards train "mock shards" "mock field"; do
    # shellcheck disable=SC2086
    "$galpost" $cmd --bogus >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] || fail "$cmd --bogus: exit $rc"
    head -1 "$tmp/err" | grep -q "^galpost $cmd: .*'--bogus'" \
        || fail "$cmd --bogus: the message does not start with 'galpost $cmd:': $(head -1 "$tmp/err")"
done
"$galpost" model random "$tmp/r.gpw" --seed >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && head -1 "$tmp/err" | grep -q "^galpost model random: option '--seed' requires an argument" \
    || fail "model random --seed without a value: exit $rc, $(head -1 "$tmp/err")"
"$galpost" --help >"$tmp/out" 2>&1;                 rc=$?; [ $rc -eq 0 ] || fail "galpost --help: exit $rc"
grep -q '^  model ' "$tmp/out" || fail "galpost --help does not list 'model'"
echo "PASS"
exit 0
