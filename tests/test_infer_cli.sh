#!/bin/sh
# test_infer_cli.sh: `galpost infer` on real files and processes: one row of
# a mock shard, the whole shard in batch (FITS table, atomically renamed),
# and the errors a user meets (missing file, bad arguments, unwritable
# output), each with a clear message and the right exit status.
set -u
top=${GP_TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
galpost="$top/galpost"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$galpost" model random "$tmp/m.gpw" --small --seed 4 || fail "model random"
"$galpost" mock shards -n 24 --seed 9 -o "$tmp" >/dev/null 2>&1 || fail "mock shards"
shard="$tmp/shard-00000.fits"
[ -f "$shard" ] || fail "no shard written"

# one row, as a table and as JSON
out=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 5 --samples 200 2>"$tmp/err") || { cat "$tmp/err"; fail "infer --row"; }
echo "$out" | grep -q "^galaxy [0-9]* *(200 samples" || fail "row summary header missing: $out"
echo "$out" | grep -q "log M\*" || fail "no stellar mass line"
echo "$out" | grep -q "BPT:" || fail "no BPT line"
echo "$out" | grep -q "catalogue values:" || fail "catalogue values not shown"
grep -q "UNTRAINED" "$tmp/err" || fail "untrained model not announced on stderr"
json=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 5 --samples 200 --json 2>/dev/null) || fail "infer --json"
echo "$json" | grep -q '"lgm_tot_p50": {"median": ' || fail "json lacks lgm_tot_p50: $json"
# same seed, same answer; another seed, another answer
json2=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 5 --samples 200 --json 2>/dev/null)
[ "$json" = "$json2" ] || fail "same seed gave different summaries"
json3=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 5 --samples 200 --seed 2 --json 2>/dev/null)
[ "$json" != "$json3" ] || fail "another seed gave identical summaries"

# batch
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" -o "$tmp/post.fits" --keep-samples 10 --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "batch infer"; }
[ -s "$tmp/post.fits" ] || fail "no result table"
grep -q "24 galaxies (0 failed)" "$tmp/err" || { cat "$tmp/err"; fail "batch summary line"; }
ls "$tmp" | grep -q partial && fail "a partial file was left behind"
head -c 2880 "$tmp/post.fits" | grep -q "SIMPLE  =" || fail "result is not FITS"

# errors
"$galpost" infer --model "$tmp/m.gpw" --shard "$tmp/nope.fits" --row 0 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "missing shard: exit $rc"
grep -q "nope.fits" "$tmp/err" || fail "missing shard not named"
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" --row 9999 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "24 rows" "$tmp/err" || fail "row out of range: exit $rc"
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" -o /nonexistent-dir/p.fits 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "/nonexistent-dir/p.fits" "$tmp/err" || fail "unwritable output: exit $rc"
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--shard without --row or -o: exit $rc"
"$galpost" infer --samples 1 --cutout x.fits 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--samples 1: exit $rc"
"$galpost" infer --mags 1,2,3 --cutout x.fits 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad --mags: exit $rc"
"$galpost" infer --model "$tmp/none.gpw" --shard "$shard" --row 0 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "none.gpw" "$tmp/err" || fail "missing model: exit $rc"
echo "ok"
