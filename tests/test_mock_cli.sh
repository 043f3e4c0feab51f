#!/bin/sh
# test_mock_cli.sh: `galpost mock` refuses bad arguments with a message and exit 2/1,
# and a small run writes complete shards.
set -u
G="${GP_TOP_BUILDDIR:-.}/galpost"
[ -x "$G" ] || { echo "no galpost binary at $G"; exit 99; }
T=$(mktemp -d /tmp/gp_mock_cli.XXXXXX) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0
expect() {   # expect CODE PATTERN ARGS...
    code=$1; pat=$2; shift 2
    "$G" "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$T/err"; then
        echo "FAIL: galpost $* -> rc $rc (want $code), stderr: $(cat "$T/err")"; fail=1
    fi
}
expect 2 "invalid galaxy count" mock shards -n -5 -o "$T"
expect 2 "invalid galaxy count" mock shards -n 0 -o "$T"
expect 2 "invalid galaxy count" mock shards -n 99999999999 -o "$T"
expect 2 "invalid galaxy count" mock shards -n abc -o "$T"
expect 2 "output directory" mock shards -n 10
expect 2 "invalid bands" mock shards -n 10 -o "$T" --bands xyz
expect 2 "invalid camcol" mock field -o "$T" --camcol 9
expect 2 "invalid dec" mock field -o "$T" --dec 95
expect 2 "unknown sub-command" mock frobnicate
# an option of another sub-command is refused, not ignored
expect 2 "-n does not apply to mock field" mock field -o "$T" -n 5
expect 2 "--run does not apply to mock shards" mock shards -n 3 -o "$T" --run 5
expect 2 "--threads does not apply to mock report" mock report -n 3 -o "$T" --threads 2
expect 2 "invalid thread count" mock shards -n 3 -o "$T" --threads -1
# a missing output directory is created (its last component); a file or a missing parent is an error
: >"$T/afile"
expect 1 "not a directory" mock shards -n 4 -o "$T/afile"
expect 1 "cannot create directory" mock shards -n 4 -o "$T/missing/deeper"
"$G" mock shards -n 3 --shard-size 3 --seed 9 -o "$T/new" 2>"$T/err" && [ -s "$T/new/shard-00000.fits" ] \
    || { echo "FAIL: shards into a new directory: $(cat "$T/err")"; fail=1; }
expect 1 "not a writable" mock report -n 10 -o /nonexistent
"$G" mock shards -n 5 --shard-size 5 --seed 9 -o "$T" 2>"$T/err" || { echo "FAIL: small run: $(cat "$T/err")"; fail=1; }
[ -s "$T/shard-00000.fits" ] || { echo "FAIL: no shard written"; fail=1; }
ls "$T" | grep -q partial && { echo "FAIL: a .partial file was left"; fail=1; }
# --threads 0 means all CPUs, as for infer, train and shards, and gives the same shard
"$G" mock shards -n 5 --shard-size 5 --seed 9 --threads 0 -o "$T/t0" 2>"$T/err" || { echo "FAIL: --threads 0: $(cat "$T/err")"; fail=1; }
cmp -s "$T/shard-00000.fits" "$T/t0/shard-00000.fits" || { echo "FAIL: --threads 0 gave another shard"; fail=1; }
# Ctrl-C during `mock field` (which does not stop halfway): it finishes the
# field and then ends by SIGINT (exit status 130), so that a shell loop of
# fields stops; it used to exit 0.  SIGINT once the output directory exists
# (the signal caught by then), not ignored as this script's background
# jobs' is.
if env --default-signal=INT true 2>/dev/null; then
    env --default-signal=INT "$G" mock field --seed 4 -o "$T/field" 2>"$T/err" &
    pid=$! i=0
    until [ -d "$T/field" ] || [ $i -ge 2000 ]; do i=$((i + 1)); sleep 0.005; done
    kill -INT $pid
    wait $pid; rc=$?
    [ $rc -eq 130 ] || { echo "FAIL: mock field interrupted: exit $rc, not 130 ($(cat "$T/err"))"; fail=1; }
fi
exit $fail
