#!/bin/sh
# test_infer_cli.sh: `galpost infer` on real files and processes: one row of
# a mock shard, the whole shard in batch (FITS table, atomically renamed),
# a photometric catalogue in batch (the same table as the shard's), and the
# errors a user meets (missing file, bad arguments, unwritable
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
# the profile (GP_INFER_PROFILE=1) names every stage, the summaries' own cost included
GP_INFER_PROFILE=1 "$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" -o "$tmp/prof.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "profiled batch"; }
grep -E -q "gp_infer profile: 24 galaxies .* scatter [0-9.]+ ms, summaries [0-9.]+ ms for 24 galaxies on [0-9]+ threads \([0-9.]+ us a galaxy a thread\)" "$tmp/err" \
    || { cat "$tmp/err"; fail "profile line"; }
head -c 2880 "$tmp/post.fits" | grep -q "SIMPLE  =" || fail "result is not FITS"

# a photometric catalogue in batch (photometry-only model): the shard's own
# table read as a PhotoObj catalogue gives the same galaxies (objID), the
# same extinction-corrected magnitudes, hence byte for byte the same table
"$galpost" model random "$tmp/p.gpw" --small --photometry --seed 4 || fail "model random --photometry"
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$shard" -o "$tmp/ps.fits" --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "batch infer, photometry model"; }
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$shard" -o "$tmp/pc.fits" --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "catalogue batch"; }
grep -q "24 galaxies (0 failed)" "$tmp/err" || { cat "$tmp/err"; fail "catalogue batch summary line"; }
cmp -s "$tmp/ps.fits" "$tmp/pc.fits" || fail "catalogue batch differs from the shard batch"
# a CSV catalogue with a sentinel row: every row written, the bad one failed and named
cat >"$tmp/cat.csv" <<'CSV'
objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,extinction_u,extinction_g,extinction_r,extinction_i,extinction_z
1237648720693755918,150.0,2.0,19.5,18.1,17.4,17.0,16.8,0.20,0.15,0.10,0.08,0.06
1237648720693755919,150.1,2.0,-9999,-9999,-9999,-9999,-9999,0,0,0,0,0
1237648720693755920,150.2,2.1,18.5,17.0,16.3,15.9,15.6,0.1,0.07,0.05,0.04,0.03
CSV
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$tmp/cat.csv" -o "$tmp/pcsv.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "CSV catalogue batch"; }
grep -q "3 galaxies (1 failed)" "$tmp/err" || { cat "$tmp/err"; fail "CSV catalogue: summary line"; }
grep -a -q "cat.csv: row 2 has no usable position or magnitudes" "$tmp/pcsv.fits" || fail "the failed row's message is not in the table"
# an image model cannot take magnitudes alone; a batch needs -o
"$galpost" infer --model "$tmp/m.gpw" --catalog "$tmp/cat.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "photometry-only" "$tmp/err" || { cat "$tmp/err"; fail "image model on a catalogue: exit $rc"; }
[ -e "$tmp/x.fits" ] && fail "a refused batch left $tmp/x.fits"
"$galpost" infer --model "$tmp/p.gpw" --catalog "$tmp/cat.csv" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "-o OUT.fits" "$tmp/err" || fail "--catalog without --frames or -o: exit $rc"
GALPOST_PHOTOMETRY_MODEL="$tmp/absent.gpw" "$galpost" infer --catalog "$tmp/cat.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "absent.gpw" "$tmp/err" || fail "no photometry model: exit $rc"
GALPOST_PHOTOMETRY_MODEL="$tmp/p.gpw" "$galpost" infer --backend cpu --catalog "$tmp/cat.csv" -o "$tmp/pd.fits" 2>/dev/null \
    && cmp -s "$tmp/pd.fits" "$tmp/pcsv.fits" || fail "\$GALPOST_PHOTOMETRY_MODEL not used by default"

# frames with WCS: a mock field, colours from its photoObj catalogue, from
# the command line, or measured on the five frames
mkdir -p "$tmp/field"
"$galpost" mock field --seed 3 -o "$tmp/field" >/dev/null 2>&1 || fail "mock field"
set -- "$tmp"/field/frame-g-*.fits; fg=$1
fr=$(echo "$fg" | sed 's/frame-g-/frame-r-/'); fi=$(echo "$fg" | sed 's/frame-g-/frame-i-/')
fu=$(echo "$fg" | sed 's/frame-g-/frame-u-/'); fz=$(echo "$fg" | sed 's/frame-g-/frame-z-/')
photo=$(ls "$tmp"/field/photoObj-*.fits)
pos=$("$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra 0 --dec 0 --mags 19,18,17,16.5,16 2>&1 | grep -c "no pixel position")
[ "$pos" -ge 1 ] || fail "a position off the frames was not refused"
# the centre of the r frame, from its header
crval=$(head -c 28800 "$fr" | fold -w 80 | grep -a -E "^CRVAL[12] " | sed 's/.*= *\([-0-9.Ee+]*\).*/\1/' | tr '\n' ' ')
set -- $crval
out=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --mags 19,18,17,16.5,16 --samples 100 2>&1) || fail "frames + mags: $out"
echo "$out" | grep -q "command line" || fail "colour source not named: $out"
out=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi,$fu,$fz" --ra "$1" --dec "$2" --samples 100 2>&1)
echo "$out" | grep -q -E "measured on the frames|colours:" || fail "measured colours: $out"
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr" --ra "$1" --dec "$2" --mags 19,18,17,16.5,16 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no i frame" "$tmp/err" || fail "missing i frame: exit $rc"
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra "$1" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--frames without --dec: exit $rc"
# colours from the field's catalogue: either a match, or a clear refusal naming it
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --catalog "$photo" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ]; then grep -q "catalogue" "$tmp/out" || fail "catalogue colours not named"
else [ $rc -eq 1 ] && grep -q "photoObj" "$tmp/err" || { cat "$tmp/err"; fail "catalogue mode: exit $rc"; }; fi

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
