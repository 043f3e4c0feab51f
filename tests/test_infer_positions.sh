#!/bin/sh
# test_infer_positions.sh: `galpost infer --frames U,G,R,I,Z --positions
# LIST.csv -o OUT.fits` on the real SDSS frames of field 004510-4-0030
# (../shared/data; skipped, exit 77, without them) with the installed model.
# A list of four main-sample galaxies (one in sexagesimal), a row off the
# frames and a row that cannot be read: each galaxy's row holds what its
# one-galaxy `--frames --ra --dec` run gives (the samples as --samples-out
# prints them, the id, the flags, the summary to the digits --json prints);
# the failed rows are kept, named by row and line with the reason.  With an
# objID column the ids are the objIDs and a row equals `--id OBJID`; the
# same list as a FITS table gives the same rows (and a table without ra is
# refused, naming its columns).  A
# batch interrupted (SIGINT once the progress record counts rows, polled,
# not slept for) and run again gives the uninterrupted table byte for byte;
# a rerun on frames of other content is refused.
set -u
top=${GP_TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
src=${GP_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
galpost="$top/galpost"
dump="$top/tests/gp_test_results_dump"
data=${GP_SHARED_DATA:-$src/../shared/data}
fd=$data/sdss-frames/004510-4-0030
if [ ! -r "$fd/frame-r-004510-4-0030.fits.bz2" ]; then
    echo "skip: no $fd/frame-r-004510-4-0030.fits.bz2 (../shared/data absent)"
    exit 77
fi
model=$src/weights/galpost-default.gpw
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

frames=
for b in u g r i z; do frames="$frames${frames:+,}$fd/frame-$b-004510-4-0030.fits.bz2"; done
common="--model $model --backend cpu --threads 1 --seed 3 --samples 100"

# the list: a comment, an extra column, the fourth galaxy in h:m:s d:m:s
cat >"$tmp/pos.csv" <<'CSV'
# main-sample galaxies of field 004510-4-0030
ra,dec,name
200.377497,36.903089,a
200.448238,36.768266,b
229.525730,42.744718,off the frames (field 003918-3-0213)
13:22:02.342,+36:43:54.70,c
200.512458,abc,malformed
200.512458,36.748041,d
CSV
"$galpost" infer $common --keep-samples 100 --frames "$frames" --positions "$tmp/pos.csv" -o "$tmp/out.fits" \
    2>"$tmp/err" || { cat "$tmp/err"; fail "positions batch"; }
grep -q "6 galaxies (2 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "summary line"; }
grep -a -q "PHOTNOTE= 'measured on the frames (6\" aperture, local sky; NOT extinction-corr" "$tmp/out.fits" \
    || fail "no PHOTNOTE saying the colours were measured"

# each galaxy against its one-galaxy run: row ROW of the table, the
# position as --ra/--dec take it, extra options (--id)
same() {
    row=$1 ra=$2 dec=$3; shift 3
    "$galpost" infer $common --frames "$frames" --ra "$ra" --dec "$dec" "$@" --json --samples-out "$tmp/one.txt" \
        >"$tmp/one.json" 2>"$tmp/err" || { cat "$tmp/err"; fail "one-galaxy run at $ra $dec"; }
    "$dump" "$tmp/out.fits" samples "$row" >"$tmp/batch.txt" || fail "dump samples $row"
    cmp "$tmp/one.txt" "$tmp/batch.txt" >/dev/null || fail "row $row: samples differ from the one-galaxy run at $ra $dec"
    "$dump" "$tmp/out.fits" row "$row" >"$tmp/row.txt" || fail "dump row $row"
    grep -q "^status 0$" "$tmp/row.txt" || fail "row $row failed: $(grep '^message' "$tmp/row.txt")"
    id=$(sed -n 's/^{"id": \([0-9]*\),.*/\1/p' "$tmp/one.json")
    flags=$(sed -n 's/.*"flags": \([0-9]*\),.*/\1/p' "$tmp/one.json")
    grep -q "^objID $id\$" "$tmp/row.txt" || fail "row $row: objID $(sed -n 's/^objID //p' "$tmp/row.txt"), one galaxy: $id"
    grep -q "^flags $flags\$" "$tmp/row.txt" || fail "row $row: flags $(sed -n 's/^flags //p' "$tmp/row.txt"), one galaxy: $flags"
    # the position: the one-galaxy JSON's (1e-8 degree) is the table's
    pj=$(sed -n 's/^{"id": [0-9]*, "ra": \([-0-9.]*\), "dec": \([-0-9.]*\),.*/\1,\2/p' "$tmp/one.json")
    "$top/tests/gp_test_table_csv" "$tmp/out.fits" | awk -F, -v r="$row" -v pj="$pj" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        NR == r + 1 { split(pj, j, ","); ok = pj != "" && (j[1] - $(c["ra"])) ^ 2 < 1e-16 && (j[2] - $(c["dec"])) ^ 2 < 1e-16 }
        END { exit !ok }' || fail "row $row: one-galaxy JSON position '$pj' is not the table's"
    # the summary: every statistic the JSON prints (%.6g) of each quantity
    n=0
    for q in $(sed -n 's/^# //p' "$tmp/one.txt"); do
        for st in median p16 p84 mean std; do
            j=$(sed -n "s/.*\"$q\": {[^}]*\"$st\": \([^,}]*\).*/\1/p" "$tmp/one.json")
            t=$(sed -n "s/^${q}_$st //p" "$tmp/row.txt")
            [ -n "$j" ] && [ -n "$t" ] || fail "row $row: no $q $st (json '$j', table '$t')"
            awk -v j="$j" -v t="$t" 'BEGIN { d = j - t; if (d < 0) d = -d; a = j < 0 ? -j : j; exit !(d <= 6e-6 * a + 1e-30) }' \
                || fail "row $row: ${q}_$st $t, one galaxy $j"
            n=$((n + 1))
        done
    done
    [ $n -ge 45 ] || fail "row $row: $n statistics compared"
}
same 1 200.377497 36.903089
same 2 200.448238 36.768266
same 4 13:22:02.342 +36:43:54.70
same 6 200.512458 36.748041

# the failed rows: kept in order, named by row and line, with the reason
"$dump" "$tmp/out.fits" row 3 >"$tmp/row.txt" || fail "dump row 3"
grep -q "^status [1-9]" "$tmp/row.txt" || fail "the off-frame row did not fail"
grep -q "^message $tmp/pos.csv: row 3 (line 5): .*RA 229.525730 Dec 42.744718 is off the image" "$tmp/row.txt" \
    || fail "the off-frame row's message: $(grep '^message' "$tmp/row.txt")"
"$dump" "$tmp/out.fits" row 5 >"$tmp/row.txt" || fail "dump row 5"
grep -q "^status [1-9]" "$tmp/row.txt" || fail "the malformed row did not fail"
grep -q "^message $tmp/pos.csv: row 5 (line 7): column 'dec': 'abc' is not an angle" "$tmp/row.txt" \
    || fail "the malformed row's message: $(grep '^message' "$tmp/row.txt")"

# the same list on standard input ("-"): the same rows, the failed ones
# naming "standard input"; its copy gone afterwards
mkdir -p "$tmp/tmpdir"
TMPDIR="$tmp/tmpdir" "$galpost" infer $common --keep-samples 100 --frames "$frames" --positions - \
    -o "$tmp/stdin.fits" <"$tmp/pos.csv" 2>"$tmp/err" || { cat "$tmp/err"; fail "positions batch from standard input"; }
grep -q "6 galaxies (2 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "standard input: summary line"; }
for k in 1 2 4 6; do
    for what in row samples; do
        "$dump" "$tmp/out.fits" $what $k >"$tmp/a" && "$dump" "$tmp/stdin.fits" $what $k >"$tmp/b" || fail "dump $what $k"
        cmp -s "$tmp/a" "$tmp/b" || fail "standard input: $what $k differs from the file's"
    done
done
"$dump" "$tmp/stdin.fits" row 5 | grep -q "^message standard input: row 5 (line 7): column 'dec': 'abc' is not an angle" \
    || fail "standard input: the malformed row's message: $("$dump" "$tmp/stdin.fits" row 5 | grep '^message')"
[ -z "$(ls -A "$tmp/tmpdir")" ] || fail "the copy of standard input was left: $(ls "$tmp/tmpdir")"
TMPDIR="$tmp/tmpdir" "$galpost" infer $common --frames "$frames" --positions - -o "$tmp/x.fits" </dev/null 2>"$tmp/err" \
    && fail "an empty standard input was taken"
grep -q "standard input: empty" "$tmp/err" || { cat "$tmp/err"; fail "empty standard input: message"; }
[ -z "$(ls -A "$tmp/tmpdir")" ] || fail "the copy of an empty standard input was left"
# standard input is no file an output could overwrite: -o naming a file
# "-" (another file here) is not refused as "the same file as --positions"
mkdir -p "$tmp/dash" && echo "not the list" >"$tmp/dash/-"
(cd "$tmp/dash" && TMPDIR="$tmp/tmpdir" "$galpost" infer $common --frames "$frames" --positions - -o - \
    <"$tmp/pos.csv" 2>"$tmp/err") || { cat "$tmp/err"; fail "--positions - -o - (a file '-' present) refused"; }
grep -q "6 galaxies (2 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "--positions - -o -: summary line"; }
"$dump" "$tmp/dash/-" row 1 >"$tmp/a" && "$dump" "$tmp/out.fits" row 1 >"$tmp/b" && cmp -s "$tmp/a" "$tmp/b" \
    || fail "--positions - -o -: row 1 is not the file run's"
# a closed standard input is said to be so (not read as the copy itself,
# which would take its descriptor: "empty")
TMPDIR="$tmp/tmpdir" "$galpost" infer $common --frames "$frames" --positions - -o "$tmp/x.fits" <&- 2>"$tmp/err" \
    && fail "a closed standard input was taken"
grep -q "cannot read standard input: it is closed" "$tmp/err" || { cat "$tmp/err"; fail "closed standard input: message"; }
[ -z "$(ls -A "$tmp/tmpdir")" ] || fail "the copy of a closed standard input was left"
# SIGINT (Ctrl-C while typing the list) or SIGTERM while standard input is
# being copied (a FIFO this script holds open): the copy goes, the process
# ends by the signal (polled for the copy's appearance, not slept for)
mkfifo "$tmp/fifo" || fail "mkfifo"
for sig in INT:130 TERM:143; do
    want=${sig#*:} sig=${sig%:*}
    TMPDIR="$tmp/tmpdir" env --default-signal=INT "$galpost" infer $common --frames "$frames" --positions - \
        -o "$tmp/x.fits" <"$tmp/fifo" 2>"$tmp/err" & pid=$!
    exec 7>"$tmp/fifo"
    echo "ra,dec" >&7
    i=0
    while [ -z "$(ls -A "$tmp/tmpdir")" ]; do
        kill -0 $pid 2>/dev/null || { cat "$tmp/err"; fail "SIG$sig: galpost ended before copying standard input"; }
        i=$((i + 1))
        [ $i -lt 6000 ] || fail "SIG$sig: no copy of standard input"
        sleep 0.02
    done
    kill -$sig $pid
    wait $pid; rc=$?; pid=
    exec 7>&-
    [ $rc -eq $want ] || { cat "$tmp/err"; fail "SIG$sig while copying standard input: exit $rc"; }
    grep -q "interrupted while reading standard input" "$tmp/err" || { cat "$tmp/err"; fail "SIG$sig: message"; }
    [ -z "$(ls -A "$tmp/tmpdir")" ] || fail "SIG$sig while copying: the copy of standard input was left: $(ls "$tmp/tmpdir")"
    [ ! -e "$tmp/x.fits" ] || fail "SIG$sig while copying: an output was written"
done

# each row's position (degrees) as the list gives it, the failed rows' too
# (NaN for the cell that is not an angle)
"$top/tests/gp_test_table_csv" "$tmp/out.fits" >"$tmp/out.csv" || fail "gp_test_table_csv"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; if (!c["ra"] || !c["dec"]) { print "no ra, dec columns"; exit 1 }
                   split("200.377497 200.448238 229.525730 200.509758333333 200.512458 200.512458", ra, " ")
                   split("36.903089 36.768266 42.744718 36.7318611111111 nan 36.748041", de, " "); next }
         { r = NR - 1; a = $(c["ra"]); d = $(c["dec"])
           if ((a - ra[r]) ^ 2 > 1e-18 || (de[r] == "nan" ? d != "NaN" : (d - de[r]) ^ 2 > 1e-18)) {
               print "row " r ": ra " a ", dec " d; bad = 1 } }
         END { if (NR != 7) { print NR - 1 " rows"; bad = 1 }; exit bad }' "$tmp/out.csv" \
    || fail "the table's ra, dec are not the list's positions"

# an objID column: the ids, and the sampler's key, are the objIDs
printf 'objID,ra,dec\n1237665440979615837,200.448238,36.768266\n,200.377497,36.903089\n' >"$tmp/ids.csv"
"$galpost" infer $common --keep-samples 100 --frames "$frames" --positions "$tmp/ids.csv" -o "$tmp/out.fits" \
    2>"$tmp/err" || { cat "$tmp/err"; fail "positions batch with objIDs"; }
same 1 200.448238 36.768266 --id 1237665440979615837
same 2 200.377497 36.903089     # (an empty objID: the position, as without --id)

# the same list as a FITS table (as TOPCAT or CasJobs save one: HDU 2,
# ra and dec in degrees, objID 64-bit integers), a row with a null dec
# added: the same rows, the null one failed and named by row
{ cat "$tmp/ids.csv"; echo "1237665440979615838,200.512458,"; } | "$top/tests/gp_test_csv_table" "$tmp/ids.fits" \
    || fail "gp_test_csv_table"
"$galpost" infer $common --keep-samples 100 --frames "$frames" --positions "$tmp/ids.fits" -o "$tmp/out.fits" \
    2>"$tmp/err" || { cat "$tmp/err"; fail "positions batch from a FITS table"; }
grep -q "3 galaxies (1 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "FITS table: summary line"; }
same 1 200.448238 36.768266 --id 1237665440979615837
same 2 200.377497 36.903089
"$dump" "$tmp/out.fits" row 3 >"$tmp/row.txt" || fail "dump row 3"
grep -q "^status [1-9]" "$tmp/row.txt" || fail "the FITS row with a null dec did not fail"
grep -q "^objID 1237665440979615838$" "$tmp/row.txt" || fail "the FITS row with a null dec lost its objID"
grep -q "^message $tmp/ids.fits: row 3: column 'dec' is null" "$tmp/row.txt" \
    || fail "the FITS row with a null dec: $(grep '^message' "$tmp/row.txt")"
# cfitsio's extended file name: the HDU and a row filter select the rows
"$galpost" infer $common --keep-samples 100 --frames "$frames" --positions "$tmp/ids.fits[1][dec > 36.8]" \
    -o "$tmp/out.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "positions batch from ids.fits[1][dec > 36.8]"; }
grep -q "1 galaxy (0 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "ids.fits[1][dec > 36.8]: summary line"; }
same 1 200.377497 36.903089

# interrupted and resumed: the uninterrupted run's table byte for byte
awk 'NR > 2' "$tmp/pos.csv" >"$tmp/rows"
{ echo "ra,dec,name"; for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do cat "$tmp/rows"; done; } >"$tmp/big.csv"
args="$common --samples 20 --keep-samples 5 --batch 2 --frames $frames --positions $tmp/big.csv"
"$galpost" infer $args -o "$tmp/full.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "uninterrupted batch"; }
grep -q "150 galaxies (50 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "uninterrupted summary line"; }
# (SIGINT caught as in a terminal's foreground: a script's background job
# starts with it ignored, which galpost keeps)
env --default-signal=INT "$galpost" infer $args -o "$tmp/b.fits" 2>"$tmp/bg.err" & pid=$!
i=0
while :; do
    n=$(sed -n 's/^rows = \([0-9]*\).*/\1/p' "$tmp/b.fits.partial.progress" 2>/dev/null)
    [ -n "$n" ] && [ "$n" -gt 0 ] && break
    kill -0 $pid 2>/dev/null || { cat "$tmp/bg.err"; fail "the batch ended before recording a row"; }
    i=$((i + 1))
    [ $i -lt 6000 ] || fail "no progress record"
    sleep 0.02
done
kill -INT $pid
wait $pid; rc=$?; pid=
[ $rc -eq 130 ] || { cat "$tmp/bg.err"; fail "interrupted batch: exit $rc, not 130 (death by SIGINT)"; }
n=$(sed -n 's/^rows = \([0-9]*\).*/\1/p' "$tmp/b.fits.partial.progress")
[ "$n" -gt 0 ] && [ "$n" -lt 150 ] || { cat "$tmp/bg.err"; fail "interrupted at row '$n'"; }
grep -q "interrupted after $n of 150 rows" "$tmp/bg.err" || { cat "$tmp/bg.err"; fail "interrupt message"; }
# other frames (the u frame of another field) are refused, the rows kept
other=$(echo "$frames" | sed "s|$fd/frame-u-004510-4-0030|$data/sdss-frames/003918-3-0213/frame-u-003918-3-0213|")
"$galpost" infer $common --samples 20 --keep-samples 5 --batch 2 --frames "$other" --positions "$tmp/big.csv" \
    -o "$tmp/b.fits" 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] && grep -q "interrupted run made with other settings: the --frames files (by content) is" "$tmp/err" \
    || { cat "$tmp/err"; fail "a resume on other frames: exit $rc"; }
[ -e "$tmp/b.fits.partial" ] || fail "the refused resume removed the partial rows"
"$galpost" infer $args -o "$tmp/b.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "resume"; }
grep -q "resuming $tmp/b.fits at row $((n + 1)) of 150" "$tmp/err" || { cat "$tmp/err"; fail "the resume does not say where"; }
cmp "$tmp/b.fits" "$tmp/full.fits" || fail "interrupted and resumed: another table than the uninterrupted run's"

# usage: a list needs frames and -o; one galaxy's options are refused
"$galpost" infer --model "$model" --positions "$tmp/pos.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--positions goes with --frames" "$tmp/err" || fail "--positions without --frames: exit $rc"
"$galpost" infer --model "$model" --frames "$frames" --positions "$tmp/pos.csv" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "give -o OUT.fits" "$tmp/err" || fail "--positions without -o: exit $rc"
"$galpost" infer --model "$model" --frames "$frames" --positions "$tmp/pos.csv" --ra 1 --dec 1 -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--ra and --dec does not go with --positions" "$tmp/err" || fail "--positions with --ra: exit $rc"
"$galpost" infer --model "$model" --frames "$frames" --catalog "$tmp/pos.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--positions LIST -o OUT.fits" "$tmp/err" || fail "--frames --catalog -o does not point to --positions: exit $rc"
"$galpost" infer --model "$model" --frames "${frames#*,}" --positions "$tmp/pos.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no u frame among --frames: measured colours need u, g, r, i and z frames (--positions" "$tmp/err" \
    || { cat "$tmp/err"; fail "--positions without a u frame: exit $rc"; }
[ -e "$tmp/x.fits" ] && fail "a refused run wrote its output"
printf 'RA_deg,dec\n1,2\n' >"$tmp/nora.csv"
"$galpost" infer --model "$model" --frames "$frames" --positions "$tmp/nora.csv" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nora.csv: no 'ra' column in the header (line 1)" "$tmp/err" || { cat "$tmp/err"; fail "a list without ra: exit $rc"; }
printf 'x_image,y_image\n1,2\n' | "$top/tests/gp_test_csv_table" "$tmp/xy.fits" || fail "gp_test_csv_table xy"
"$galpost" infer --model "$model" --frames "$frames" --positions "$tmp/xy.fits" -o "$tmp/x.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "xy.fits: HDU 2 (TABLE): no 'ra' column (nor RAJ2000, RA_ICRS): .*its columns: x_image, y_image" \
    "$tmp/err" || { cat "$tmp/err"; fail "a FITS table without ra: exit $rc"; }
[ -e "$tmp/x.fits" ] && fail "a refused run wrote its output"
echo "ok"
exit 0
