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
# set_cell FILE COLUMN ROW HEX: write the 4-byte big-endian float HEX into
# cell (ROW from 0, COLUMN an E column) of FILE's binary table
set_cell() {
    tab=$(grep -a -b -o "XTENSION= 'BINTABLE'" "$1" | head -1 | cut -d: -f1)
    hdr=$(tail -c +$((tab + 1)) "$1" | head -c 57600 | fold -w 80)
    w=$(printf '%s\n' "$hdr" | sed -n 's/^NAXIS1  = *\([0-9]*\).*/\1/p' | head -1)
    end=$(printf '%s\n' "$hdr" | grep -a -n '^END *$' | head -1 | cut -d: -f1)
    off=0; k=1
    while :; do
        name=$(printf '%s\n' "$hdr" | sed -n "s/^TTYPE$k *= '\([^ ']*\) *'.*/\1/p")
        [ -n "$name" ] || fail "set_cell: no column $2 in $1"
        [ "$name" = "$2" ] && break
        form=$(printf '%s\n' "$hdr" | sed -n "s/^TFORM$k *= '\([^ ']*\) *'.*/\1/p")
        rep=$(echo "$form" | sed 's/[A-Z].*//'); rep=${rep:-1}
        case $(echo "$form" | sed 's/^[0-9]*//') in
            K|D) sz=8 ;; E|J) sz=4 ;; I) sz=2 ;; A|B|L) sz=1 ;; *) fail "set_cell: TFORM $form" ;;
        esac
        off=$((off + rep * sz)); k=$((k + 1))
    done
    at=$((tab + (end * 80 + 2879) / 2880 * 2880 + $3 * w + off))
    oct=""; for x in $(echo "$4" | sed 's/../& /g'); do oct="$oct$(printf '\\%03o' "0x$x")"; done
    printf "$oct" | dd of="$1" bs=1 seek=$at conv=notrunc 2>/dev/null
}
# table_ids FILE: the objID column (the first, 64-bit) of a result table's
# SUMMARY rows, one a line, read from the bytes (ids below 2^63)
table_ids() {
    hdr=$(head -c 100000 "$1" | fold -w 80)
    w=$(printf '%s\n' "$hdr" | sed -n 's/^NAXIS1  = *\([0-9]*\).*/\1/p' | head -1)
    n=$(printf '%s\n' "$hdr" | sed -n 's/^NAXIS2  = *\([0-9]*\).*/\1/p' | head -1)
    end=$(printf '%s\n' "$hdr" | grep -a -n '^END *$' | sed -n '2s/:.*//p')   # the table header's END card
    start=$(( (end * 80 + 2879) / 2880 * 2880 ))
    i=0
    while [ $i -lt "$n" ]; do
        echo $(( 0x$(od -An -tx1 -j $((start + i * w)) -N 8 "$1" | tr -d ' \n') ))
        i=$((i + 1))
    done
}

"$galpost" model random "$tmp/m.gpw" --small --seed 4 || fail "model random"
"$galpost" mock shards -n 24 --seed 9 -o "$tmp" >/dev/null 2>&1 || fail "mock shards"
shard="$tmp/shard-00000.fits"
[ -f "$shard" ] || fail "no shard written"

# one row, as a table and as JSON; its catalogue values as the table has
# them (a redshift below the softplus scale, a measured flux below 0: the
# training targets of both differ from them)
set_cell "$shard" z 5 3f8205bc01a36e2f               # 0.0088 (a D column: 8 bytes)
set_cell "$shard" oiii_5007_flux 5 bf39db23          # -0.726
out=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 2>"$tmp/err") || { cat "$tmp/err"; fail "infer --row"; }
echo "$out" | grep -q "^galaxy [0-9]* *(200 samples" || fail "row summary header missing: $out"
echo "$out" | grep -q "log M\*" || fail "no stellar mass line"
echo "$out" | grep -q "BPT:" || fail "no BPT line"
echo "$out" | grep -q "catalogue values:" || fail "catalogue values not shown"
echo "$out" | grep "catalogue values:" | grep -q " z 0\.009 " || fail "catalogue z not the table's 0.0088: $(echo "$out" | grep 'catalogue values')"
echo "$out" | grep "catalogue values:" | grep -q "\[OIII\]5007 -0\.726" || fail "catalogue [OIII] not the table's -0.726: $(echo "$out" | grep 'catalogue values')"
grep -q "UNTRAINED" "$tmp/err" || fail "untrained model not announced on stderr"
json=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 --json 2>/dev/null) || fail "infer --json"
echo "$json" | grep -q '"lgm_tot_p50": {"median": ' || fail "json lacks lgm_tot_p50: $json"
# the posterior correlation matrix in --json: the Pearson r of the samples
# that --samples-out writes, every pair (4 decimals)
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 --json \
    --samples-out "$tmp/row6.txt" >"$tmp/row6.json" 2>/dev/null || fail "infer --json --samples-out"
grep -q '"corr": {"order": \["lgm_tot_p50", "sfr_tot_p50", "z", "log_mbh", "oh_p50", "h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux"\], "matrix": \[\[1.0000, ' \
    "$tmp/row6.json" || fail "--json: no corr order and matrix: $(cut -c1-300 "$tmp/row6.json")"
sed 's/.*"matrix": \[//; s/\]\]}.*//; s/\], *\[/\n/g; s/\[//g' "$tmp/row6.json" | tr -d ' ' >"$tmp/corr.json.txt"
awk -v mfile="$tmp/corr.json.txt" '
    BEGIN { while ((getline l < mfile) > 0) { nm++; nc = split(l, v, ","); for (j = 1; j <= nc; j++) m[nm, j] = v[j] } }
    /^#/ { next }
    { n++; for (j = 1; j <= NF; j++) { x[n, j] = $j; s[j] += $j }; nq = NF }
    END {
        if (nm != 9 || nc != 9 || nq != 9 || n != 200) { print "shape " nm "x" nc ", " nq " quantities, " n " samples"; exit 1 }
        for (j = 1; j <= nq; j++) mu[j] = s[j] / n
        for (a = 1; a <= nq; a++) for (b = 1; b <= nq; b++) {
            sab = saa = sbb = 0
            for (i = 1; i <= n; i++) { da = x[i, a] - mu[a]; db = x[i, b] - mu[b]; sab += da * db; saa += da * da; sbb += db * db }
            if (a != b && (saa == 0 || sbb == 0)) {   # no spread: undefined, null
                if (m[a, b] != "null") { print "corr[" a "][" b "] " m[a, b] ", undefined (no spread)"; bad = 1 }
                continue
            }
            r = a == b ? 1 : sab / sqrt(saa * sbb)
            d = r - m[a, b]; if (d < 0) d = -d
            if (m[a, b] == "null" || d > 2e-4) { print "corr[" a "][" b "] " m[a, b] ", samples give " r; bad = 1 }
        }
        exit bad }' "$tmp/row6.txt" || fail "--json corr is not the samples' correlation"
# the shard row's position (its ra, dec columns) in --json, to 1e-8 degree
want=$("$top/tests/gp_test_table_csv" "$shard" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    NR == 7 { printf "\"ra\": %.8f, \"dec\": %.8f,", $(c["ra"]), $(c["dec"]) }')
case $json in *"\"id\": "*", $want \"model\": "*) ;; *) fail "--shard --row --json: not the row's position ($want): $(echo "$json" | cut -c1-160)" ;; esac
# -m is --model, as for galpost eval: the same model gives the same JSON
json_m=$("$galpost" infer -m "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 --json 2>/dev/null) || fail "infer -m"
[ "$json_m" = "$json" ] || fail "infer -m and --model differ"
echo "$json" | grep -q '"line_unit": "log10(1+F), F in 1e-17 erg/s/cm2"' || fail "json lacks the line unit: $json"
# a model without the input checks: their distances are null; the shipped photometry
# model has the photometry check: a distance and its limit
echo "$json" | grep -q '"phot_d2": null, "phot_d2_limit": null' || fail "random model: phot_d2 not null: $json"
src=${GP_TOP_SRCDIR:-$top}
if [ -r "$src/weights/galpost-photometry.gpw" ]; then
    pj=$("$galpost" infer --model "$src/weights/galpost-photometry.gpw" --backend cpu --shard "$shard" --row 6 \
        --samples 50 --json 2>/dev/null) || fail "infer --json with the shipped photometry model"
    echo "$pj" | grep -E -q '"phot_d2": [0-9.e+-]+, "phot_d2_limit": [0-9.e+-]+,' \
        || fail "shipped photometry model: no phot_d2 in JSON: $pj"
fi
# same seed, same answer; another seed, another answer
json2=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 --json 2>/dev/null)
[ "$json" = "$json2" ] || fail "same seed gave different summaries"
json3=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 6 --samples 200 --seed 2 --json 2>/dev/null)
[ "$json" != "$json3" ] || fail "another seed gave identical summaries"

# batch
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" -o "$tmp/post.fits" --keep-samples 10 --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "batch infer"; }
[ -s "$tmp/post.fits" ] || fail "no result table"
grep -q "24 galaxies (0 failed)" "$tmp/err" || { cat "$tmp/err"; fail "batch summary line"; }
ls "$tmp" | grep -q partial && fail "a partial file was left behind"
# rows with unusable photometry are failed rows naming the shard, the row and
# the column (and the row of the whole input when it is not the first shard)
mkdir -p "$tmp/badsh"; bad="$tmp/badsh/bad.fits"; cp "$shard" "$bad"
set_cell "$bad" modelMag_u 2 c61c3c00     # -9999
set_cell "$bad" extinction_g 5 7fc00000   # NaN
set_cell "$bad" modelMag_r 7 42340000     # 45: beyond 40 after the extinction
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --shard "$bad" -o "$tmp/badsh/post.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "batch with bad photometry"; }
grep -q "48 galaxies (3 failed)" "$tmp/err" || { cat "$tmp/err"; fail "bad photometry: summary line"; }
# (rows counted from 1, as --row counts them: set_cell's rows 2, 5 and 7 count from 0)
for m in "row 3 (row 27 of the input): column 'modelMag_u' = -9999 is not a usable magnitude" \
         "row 6 (row 30 of the input): column 'extinction_g' is empty or NaN: not a usable extinction" \
         "row 8 (row 32 of the input): columns 'modelMag_r' - 'extinction_r' = 45 - "; do
    grep -a -q "$bad: $m" "$tmp/badsh/post.fits" || fail "bad photometry: '$m' not in the table"
done
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$bad" --row 6 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "galpost infer: $bad: row 6: column 'extinction_g' is empty or NaN" "$tmp/err" \
    || { cat "$tmp/err"; fail "--row of a bad row: exit $rc"; }
# the profile (GP_INFER_PROFILE=1) names every stage, the summaries' own cost included
GP_INFER_PROFILE=1 "$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" -o "$tmp/prof.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "profiled batch"; }
grep -E -q "gp_infer profile: 24 galaxies .* scatter [0-9.]+ ms, summaries [0-9.]+ ms for 24 galaxies on [0-9]+ threads \([0-9.]+ us a galaxy a thread\)" "$tmp/err" \
    || { cat "$tmp/err"; fail "profile line"; }
head -c 2880 "$tmp/post.fits" | grep -q "SIMPLE  =" || fail "result is not FITS"
# the derived diagnostics have one name and unit in --json and in the table
# (NAME_median, TUNIT; the plug-in's summary json uses them too)
hdr=$(head -c 57600 "$tmp/post.fits" | fold -w 80)
nd=0
for d in $(printf '%s\n' "$json" | sed 's/.*"derived": {//' | grep -o '"[a-z0-9_]*": {"median": [^}]*}' | tr ' ' '~'); do
    name=$(echo "$d" | sed 's/^"\([a-z0-9_]*\)".*/\1/'); unit=$(echo "$d" | sed 's/.*"unit":~"\([^"]*\)"}$/\1/' | tr '~' ' ')
    col=$(printf '%s\n' "$hdr" | sed -n "s/^TTYPE\([0-9]*\) *= '${name}_median *'.*/\1/p")
    [ -n "$col" ] || fail "--json's derived '$name' is not a column ${name}_median of the table"
    tu=$(printf '%s\n' "$hdr" | sed -n "s/^TUNIT$col *= '\([^']*\)'.*/\1/p" | sed 's/ *$//')
    [ "$tu" = "$unit" ] || fail "derived '$name': unit '$unit' in --json, '$tu' in the table"
    nd=$((nd + 1))
done
[ $nd -eq 7 ] || fail "--json has $nd derived diagnostics, not 7: $json"
# the BPT probabilities: bpt.p_KEY in --json (as in galpostd's summary json) is
# the column p_bpt_KEY of the table; the class is one of the table's values or null
nb=0
for k in $(printf '%s\n' "$json" | sed 's/.*"bpt": {//; s/}.*//' | grep -o '"p_[a-z]*": ' | sed 's/"p_\([a-z]*\)": /\1/'); do
    printf '%s\n' "$hdr" | grep -q "^TTYPE[0-9]* *= 'p_bpt_$k *'" || fail "--json's bpt.p_$k is not a column p_bpt_$k of the table"
    nb=$((nb + 1))
done
[ $nb -eq 4 ] || fail "--json has $nb BPT probabilities, not 4: $json"
printf '%s\n' "$json" | grep -E -q '"bpt": \{"class": ("star-forming"|"composite"|"Seyfert"|"LINER"|null), "n": [0-9]+, "p_sf": [^,]*, "p_composite": [^,]*, "p_seyfert": [^,]*, "p_liner": [^,}]*\}' \
    || fail "--json's bpt member: $json"
printf '%s\n' "$json" | grep -q '"log_n2ha": {"median": [^}]*"unit": "dex"}' || fail "--json: no log_n2ha in dex"

# a photometric catalogue in batch (photometry-only model): the shard's own
# table read as a PhotoObj catalogue gives the same galaxies (objID), the
# same extinction-corrected magnitudes, hence byte for byte the same table
"$galpost" model random "$tmp/p.gpw" --small --photometry --seed 4 || fail "model random --photometry"
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$shard" -o "$tmp/ps.fits" --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "batch infer, photometry model"; }
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$shard" -o "$tmp/pc.fits" --batch 7 2>"$tmp/err" || { cat "$tmp/err"; fail "catalogue batch"; }
grep -q "24 galaxies (0 failed)" "$tmp/err" || { cat "$tmp/err"; fail "catalogue batch summary line"; }
cmp -s "$tmp/ps.fits" "$tmp/pc.fits" || fail "catalogue batch differs from the shard batch"
# the shard's table as CSV (--shard, photometry-only model): a failed row names the shard,
# the row (from 1), its line and the column, as for a FITS shard; the lines are the file's
# (a '#' comment moves them), the bad cells written as CasJobs writes them
tocsv=$top/tests/gp_test_table_csv
[ -x "$tocsv" ] || fail "no tests/gp_test_table_csv at $tocsv"
"$tocsv" "$shard" >"$tmp/sh.raw" || fail "gp_test_table_csv $shard"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next }
    NR == 3 { print "# a comment" }
    NR == 4 { $(c["modelMag_u"]) = "null" }
    NR == 7 { $(c["extinction_g"]) = "-9999" }
    { print }' "$tmp/sh.raw" >"$tmp/badsh/bad.csv"
csv=$tmp/badsh/bad.csv
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$shard" --shard "$csv" -o "$tmp/badsh/pcsv.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "batch with a CSV shard"; }
grep -q "48 galaxies (2 failed)" "$tmp/err" || { cat "$tmp/err"; fail "CSV shard: summary line"; }
for m in "row 3 (line 5; row 27 of the input): column 'modelMag_u' is empty, null or NaN: not a usable magnitude" \
         "row 6 (line 8; row 30 of the input): column 'extinction_g' = -9999 is not a usable extinction"; do
    grep -a -q "$csv: $m" "$tmp/badsh/pcsv.fits" || fail "CSV shard: '$m' not in the table"
done
# every row of a batch table carries its galaxy's position (ra, dec in degrees,
# the input's doubles as they are): the FITS shard's rows and the same rows read
# from its CSV copy, failed rows included
radec() {   # TABLE: "ra,dec" per row, as gp_test_table_csv prints the doubles
    "$tocsv" "$1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; if (!c["ra"] || !c["dec"]) exit 3; next }
                              { print $(c["ra"]) "," $(c["dec"]) }'
}
radec "$shard" >"$tmp/pos.want" || fail "the shard has no ra, dec columns"
cat "$tmp/pos.want" "$tmp/pos.want" >"$tmp/pos.want2"
radec "$tmp/badsh/pcsv.fits" >"$tmp/pos.got" || fail "the batch table has no ra, dec columns"
[ "$(wc -l <"$tmp/pos.got")" -eq 48 ] && grep -q '^[0-9]' "$tmp/pos.want" && cmp -s "$tmp/pos.want2" "$tmp/pos.got" \
    || { paste -d' ' "$tmp/pos.want2" "$tmp/pos.got" | head -5; fail "batch table: ra, dec are not the shard's"; }
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$csv" --row 6 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "galpost infer: $csv: row 6 (line 8): column 'extinction_g' = -9999 is not a usable extinction" "$tmp/err" \
    || { cat "$tmp/err"; fail "--row of a bad CSV row: exit $rc"; }
# a good CSV row: its input line names the row and its line too (the comment moves it)
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$csv" --row 4 >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "--row of a good CSV row"; }
grep -q "^input: $csv: row 4 (line 6), objID " "$tmp/out" || { cat "$tmp/out"; fail "--row of a CSV row: the input line does not give the CSV line"; }
# a CSV catalogue with a sentinel row: every row written, the bad one failed and named
cat >"$tmp/cat.csv" <<'CSV'
objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,extinction_u,extinction_g,extinction_r,extinction_i,extinction_z
1237648720693755918,150.0,2.0,19.5,18.1,17.4,17.0,16.8,0.20,0.15,0.10,0.08,0.06
1237648720693755919,150.1,2.0,-9999,-9999,-9999,-9999,-9999,0,0,0,0,0
1237648720693755920,150.2,2.1,18.5,17.0,16.3,15.9,15.6,0.1,0.07,0.05,0.04,0.03
CSV
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$tmp/cat.csv" -o "$tmp/pcsv.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "CSV catalogue batch"; }
grep -q "3 galaxies (1 failed)" "$tmp/err" || { cat "$tmp/err"; fail "CSV catalogue: summary line"; }
# a FITS shard whose ra is text (sexagesimal, blank-separated as VizieR
# writes it): read as positions (NaN where not an angle or out of 0..24h),
# never a reason to refuse it
sed '2s/,150.0,2.0,/,10 00 00.0,2.0,/; 3s/,150.1,2.0,/,abc,2.0,/; 4s/,150.2,2.1,/,25:00:00,2.1,/' "$tmp/cat.csv" \
    | "$top/tests/gp_test_csv_table" "$tmp/txtra.fits" || fail "gp_test_csv_table txtra"
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$tmp/txtra.fits" -o "$tmp/txtra-out.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "a shard with a text ra column"; }
[ "$(radec "$tmp/txtra-out.fits" | tr '\n' ' ')" = "150,2 NaN,2 NaN,2.1000000000000001 " ] \
    || { radec "$tmp/txtra-out.fits"; fail "a shard with a text ra column: ra, dec"; }
# the catalogue's positions, the failed row's too
[ "$(radec "$tmp/pcsv.fits" | tr '\n' ' ')" = "150,2 150.09999999999999,2 150.19999999999999,2.1000000000000001 " ] \
    || { radec "$tmp/pcsv.fits"; fail "CSV catalogue batch: ra, dec not the catalogue's"; }
grep -a -q "PHOTNOTE" "$tmp/pcsv.fits" && fail "a catalogue with extinction columns got a PHOTNOTE"
# without extinction columns the magnitudes are used as they are: said on stderr and in the table
cut -d, -f1-8 "$tmp/cat.csv" >"$tmp/noext.csv"
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$tmp/noext.csv" -o "$tmp/noext.fits" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "CSV catalogue without extinction"; }
grep -q "has no extinction columns" "$tmp/err" || fail "no warning about the missing extinction columns"
grep -a -q "PHOTNOTE= 'NOT corrected for Galactic extinction" "$tmp/noext.fits" \
    || fail "the table does not record that its magnitudes were not extinction-corrected"
grep -a -q "cat.csv: row 2 (line 3): column 'modelMag_u' = -9999 is not a usable magnitude" "$tmp/pcsv.fits" \
    || fail "the failed row's message (row from 1, line, column) is not in the table"
# a ragged line, a 'null' or non-numeric cell, a bad objID: failed rows
# naming row, line and column; the rest of the batch is inferred
cat >"$tmp/rag.csv" <<'CSV'
objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z
11,150.0,2.0,19.5,18.1,17.4,17.0,16.8
12,150.1,2.0,null,18.1,17.4,17.0,16.8
13,150.1,2.0,19.5,18.1
14,150.1,2.0,19.5,abc,17.4,17.0,16.8
x15,150.1,2.0,19.5,18.1,17.4,17.0,16.8
16,150.2,2.1,18.5,17.0,16.3,15.9,15.6
CSV
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --catalog "$tmp/rag.csv" -o "$tmp/rag.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "ragged CSV batch"; }
grep -q "6 galaxies (4 failed)" "$tmp/err" || { cat "$tmp/err"; fail "ragged CSV: summary line"; }
for m in "row 2 (line 3): column 'modelMag_u': 'null' is not a number" "row 3 (line 4): 5 fields, the header (line 1) has 8" \
         "row 4 (line 5): column 'modelMag_g': 'abc' is not a number" "row 5 (line 6): column 'objID': 'x15' is not an object ID"; do
    grep -a -q "rag.csv: $m" "$tmp/rag.fits" || fail "ragged CSV: '$m' not in the table"
done
# failed rows keep their objID where its cell can be read (the ragged line's
# is its first field); only x15 gets its row number (5, from 1), and says so
[ "$(table_ids "$tmp/rag.fits" | tr '\n' ' ')" = "11 12 13 14 5 16 " ] \
    || fail "ragged CSV: ids $(table_ids "$tmp/rag.fits" | tr '\n' ' ')"
grep -a -q "no readable objID: id 5 is the row number (from 1); $tmp/rag.csv: row 5 (line 6): column 'objID'" "$tmp/rag.fits" \
    || fail "ragged CSV: the row-number id is not said"
[ "$(grep -a -o "no readable objID" "$tmp/rag.fits" | wc -l)" -eq 1 ] || fail "ragged CSV: a row with an objID said it had none"
# another delimiter is named
printf 'objID;ra;dec\n1;2;3\n' >"$tmp/semi.csv"
"$galpost" infer --model "$tmp/p.gpw" --catalog "$tmp/semi.csv" -o "$tmp/semi.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "semi.csv: no comma-separated header line: line 1 looks ';'-delimited" "$tmp/err" \
    || { cat "$tmp/err"; fail "semicolon CSV: exit $rc"; }
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
# the input line names every frame given, u and z too
out=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi,$fu,$fz" --ra "$1" --dec "$2" \
    --mags 19,18,17,16.5,16 --samples 100 2>&1) || fail "five frames + mags: $out"
echo "$out" | grep -q "^input: RA .*; g $fg, r $fr, i $fi, u $fu, z $fz\$" || fail "input line does not name the five frames: $out"
# the position in sexagesimal (RA in hours), as DS9 and galpostd's infer
# RA DEC take it, is the same position: the same JSON, id and samples included
sexa=$(awk -v ra="$1" -v dec="$2" 'function hms(x,  h, m, s) { h = int(x); m = int((x - h) * 60); s = ((x - h) * 60 - m) * 60
        return sprintf("%d:%02d:%09.6f", h, m, s) }
    BEGIN { sg = dec < 0 ? "-" : "+"; print hms(ra / 15) " " sg hms(dec < 0 ? -dec : dec) }')
set -- $1 $2 $sexa
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --mags 19,18,17,16.5,16 \
    --samples 100 --json >"$tmp/deg.json" 2>"$tmp/err" || fail "frames in degrees: $(cat "$tmp/err")"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi" --ra "$3" --dec "$4" --mags 19,18,17,16.5,16 \
    --samples 100 --json >"$tmp/sexa.json" 2>"$tmp/err" || fail "--ra $3 --dec $4 (sexagesimal): $(cat "$tmp/err")"
cmp -s "$tmp/deg.json" "$tmp/sexa.json" || fail "--ra $3 --dec $4 is not --ra $1 --dec $2: $(cut -c1-200 "$tmp/sexa.json")"
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra 24:00:01 --dec "$4" --mags 19,18,17,16.5,16 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "got '24:00:01'" "$tmp/err" || fail "--ra 24:00:01 not refused: $(cat "$tmp/err")"
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra "$3" --dec 10:60:00 --mags 19,18,17,16.5,16 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "got '10:60:00'" "$tmp/err" || fail "--dec 10:60:00 not refused: $(cat "$tmp/err")"
# a band missing from --frames is a usage error (exit 2) like every other
# missing input: g, r or i always; u or z when the colours are measured
for miss in g r i; do
    list=""; for b in g r i; do [ $b = $miss ] || list="$list${list:+,}$(echo "$fg" | sed "s/frame-g-/frame-$b-/")"; done
    "$galpost" infer --model "$tmp/m.gpw" --frames "$list" --ra "$1" --dec "$2" --mags 19,18,17,16.5,16 >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && grep -q "no $miss frame among --frames" "$tmp/err" && [ ! -s "$tmp/out" ] \
        || { cat "$tmp/err"; fail "missing $miss frame: exit $rc"; }
done
for miss in u z; do
    list="$fg,$fr,$fi"; [ $miss = u ] && list="$list,$fz" || list="$list,$fu"
    "$galpost" infer --model "$tmp/m.gpw" --frames "$list" --ra "$1" --dec "$2" >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && grep -q "no $miss frame among --frames: measured colours need u, g, r, i and z frames" "$tmp/err" \
        && [ ! -s "$tmp/out" ] || { cat "$tmp/err"; fail "missing $miss frame, colours measured: exit $rc"; }
    # with the colours given, u and z frames are not needed
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$list" --ra "$1" --dec "$2" --mags 19,18,17,16.5,16 \
        --samples 50 >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "no $miss frame but --mags: refused"; }
done
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra "$1" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--frames without --dec: exit $rc"
# colours from the field's catalogue: either a match, or a clear refusal naming it
"$galpost" infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --catalog "$photo" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -eq 0 ]; then grep -q "catalogue" "$tmp/out" || fail "catalogue colours not named"
else [ $rc -eq 1 ] && grep -q "photoObj" "$tmp/err" || { cat "$tmp/err"; fail "catalogue mode: exit $rc"; }; fi
# catalogue rows that cannot be read are never matched: their count is said
# on stderr (with the first one's reason) and in the colours' source
# (a comment and a blank line above the first row: its line is 4, not 2)
{ echo "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z"
  echo "# the test's catalogue"
  echo
  echo "21,$1,$2,19.5,18.1,17.4,17.0,16.8"
  echo "22,$1,$2,19.5,18.1"
  echo "23,$1,$2,19.5,abc,17.4,17.0,16.8"; } >"$tmp/fcat.csv"
for fmt in text json; do
    opt=; [ $fmt = json ] && opt=--json
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --catalog "$tmp/fcat.csv" \
        --samples 50 $opt >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "frames + CSV catalogue ($fmt)"; }
    grep -q "fcat.csv: 2 rows could not be read and were not matched (the first: $tmp/fcat.csv: row 2 (line 5): 5 fields" "$tmp/err" \
        || { cat "$tmp/err"; fail "frames + catalogue ($fmt): unreadable rows not counted on stderr"; }
    # the first data row is row 1, as in every message and as galpostd counts,
    # and the source names its line in the file as an editor counts it
    grep -q "catalogue $tmp/fcat.csv: row 1 (line 4), 0.00.* away, .*; 2 unreadable rows not matched" "$tmp/out" \
        || fail "frames + catalogue ($fmt): unreadable rows not in the source: $(head -c 600 "$tmp/out")"
done
# the galaxy's own row cannot be used ('null' u) and no usable row is within
# 2": the error names that row, its line and why, not "no object"
{ echo "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z"
  echo "31,$1,$2,null,18.1,17.4,17.0,16.8"
  echo "32,$1,$(awk -v d="$2" 'BEGIN { printf "%.6f", d + 0.01 }'),19.5,18.1,17.4,17.0,16.8"; } >"$tmp/ncat.csv"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --frames "$fg,$fr,$fi" --ra "$1" --dec "$2" --catalog "$tmp/ncat.csv" \
    --samples 50 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "galpost infer: $tmp/ncat.csv: row 1 (line 2), the nearest object within 2.00\" of RA .* (0.00\" away), cannot be used: column 'modelMag_u': 'null' is not a number" "$tmp/err" \
    || { cat "$tmp/err"; fail "frames + catalogue: the galaxy's unusable row not named (exit $rc)"; }

# single cutouts, written here byte by byte: a 160x160x3 float image with the
# given keyword cards (zero pixels; mkcut_nan puts a NaN at pixel 38481)
card() { printf '%-80.80s' "$1"; }
num() { card "$(printf '%-8s= %20s' "$1" "$2")"; }
str() { card "$(printf "%-8s= '%s'" "$1" "$2")"; }
mkcut() {   # mkcut FILE CARD...
    f=$1; shift
    { num SIMPLE T; num BITPIX -32; num NAXIS 3; num NAXIS1 160; num NAXIS2 160; num NAXIS3 3
      n=7; for c in "$@"; do printf '%s' "$c"; n=$((n + 1)); done; card END
      printf '%*s' $(( (36 - n % 36) % 36 * 80 )) ''
      head -c 308160 /dev/zero; } >"$f"
}
mags="$(num MAG_U 20.28)$(num MAG_G 17.98)$(num MAG_R 16.78)$(num MAG_I 16.28)$(num MAG_Z 15.95)"
mkcut "$tmp/c.fits" "$(num OBJID 12345)" "$mags"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/c.fits" --samples 50 --json >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "infer --cutout"; }
grep -q '^{"id": 12345, "ra": null, "dec": null,' "$tmp/out" || fail "cutout OBJID, no position: $(cut -c1-200 "$tmp/out")"
# the cutout's RA and DEC keywords are its position in --json
mkcut "$tmp/cpos.fits" "$(num OBJID 12345)" "$mags" "$(num RA 229.52571234)" "$(num DEC -0.5)"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/cpos.fits" --samples 50 --json >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "infer --cutout with RA, DEC"; }
grep -q '^{"id": 12345, "ra": 229.52571234, "dec": -0.50000000,' "$tmp/out" || fail "cutout RA, DEC in --json: $(cut -c1-200 "$tmp/out")"
# the magnitudes used and their source, and the derived line diagnostics
grep -q '"magnitudes": {"ugriz": \[20.28, 17.98, 16.78, 16.28, 15.95\], "source": "cutout keywords"}' "$tmp/out" \
    || fail "cutout JSON: magnitudes or their source missing: $(cut -c1-300 "$tmp/out")"
grep -q '"derived": {"sfr_halpha": {"median": ' "$tmp/out" || fail "cutout JSON: no derived diagnostics"
# a file name that is not UTF-8 (a Latin-1 e-acute) is written as U+FFFD: valid JSON
lat=$(printf '%s/mod\351l.gpw' "$tmp"); cp "$tmp/m.gpw" "$lat"
"$galpost" infer --model "$lat" --backend cpu --cutout "$tmp/c.fits" --samples 50 --json >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "infer --json, Latin-1 model path"; }
grep -q "\"model\": \"$tmp/mod\\\\ufffdl.gpw\"" "$tmp/out" || fail "Latin-1 path not written as \\ufffd: $(cut -c1-200 "$tmp/out")"
iconv -f UTF-8 -t UTF-8 "$tmp/out" >/dev/null 2>&1 || fail "JSON with a Latin-1 path is not UTF-8"
rm -f "$lat"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/c.fits" --mags 20,18,17,16.5,16 --samples 50 --json \
    2>/dev/null | grep -q '"ugriz": \[20, 18, 17, 16.5, 16\], "source": "command line"' || fail "--mags: source not 'command line'"
# OBJID exactly, as a string or an integer keyword (through a double it came out ...408)
for k in str num; do
    mkcut "$tmp/cid.fits" "$($k OBJID 1237648702973329533)" "$mags"
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/cid.fits" --samples 50 --json >"$tmp/out" 2>"$tmp/err" \
        || { cat "$tmp/err"; fail "infer --cutout, $k OBJID"; }
    grep -q '^{"id": 1237648702973329533,' "$tmp/out" || fail "$k OBJID not exact: $(cut -c1-40 "$tmp/out")"
done
# a negative or non-integer OBJID is refused, naming the file and the keyword
for bad in "$(num OBJID -5)" "$(str OBJID -5)" "$(str OBJID 12x)" "$(num OBJID 1.5)" "$(str OBJID 18446744073709551616)"; do
    mkcut "$tmp/cbad.fits" "$bad" "$mags"
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/cbad.fits" --samples 50 >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 1 ] && grep -q "cbad.fits: keyword OBJID" "$tmp/err" && [ ! -s "$tmp/out" ] \
        || { cat "$tmp/err"; fail "bad OBJID card '$bad': exit $rc"; }
    grep -q -- "--id" "$tmp/err" || fail "bad OBJID: the message does not point at --id"
    # --id names the galaxy: the keyword does not matter then
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/cbad.fits" --id 42 --samples 50 --json >"$tmp/out" 2>"$tmp/err" \
        || { cat "$tmp/err"; fail "bad OBJID card '$bad' with --id 42"; }
    grep -q '^{"id": 42,' "$tmp/out" || fail "--id 42 over a bad OBJID: $(cut -c1-40 "$tmp/out")"
done
# a MAG keyword that is not a number is said to be one (not "no MAG_R keyword")
mkcut "$tmp/cmag.fits" "$(num OBJID 7)" "$(num MAG_U 20.28)$(num MAG_G 17.98)$(str MAG_R abc)$(num MAG_I 16.28)$(num MAG_Z 15.95)"
"$galpost" infer --model "$tmp/m.gpw" --cutout "$tmp/cmag.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cmag.fits: keyword MAG_R is not a number" "$tmp/err" || { cat "$tmp/err"; fail "MAG_R='abc': exit $rc"; }
# a non-finite pixel: still an error, naming the file
cp "$tmp/c.fits" "$tmp/cnan.fits"
off=$(( $(grep -a -b -o "END     " "$tmp/c.fits" | head -1 | cut -d: -f1) / 2880 * 2880 + 2880 + 38480 * 4 ))
printf '\177\300\000\000' | dd of="$tmp/cnan.fits" bs=1 seek=$off conv=notrunc 2>/dev/null
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/cnan.fits" --samples 50 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cnan.fits: .*not finite" "$tmp/err" || { cat "$tmp/err"; fail "NaN pixel: exit $rc"; }
# a photometry-only model given an image says, once, that the image is not used
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --cutout "$tmp/c.fits" --samples 50 >/dev/null 2>"$tmp/err" || fail "photometry model on a cutout"
[ "$(grep -c "photometry-only model: the cutout is not used" "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "no note that the cutout is unused"; }
"$galpost" infer --model "$tmp/p.gpw" --backend cpu --shard "$shard" --row 3 --samples 50 >/dev/null 2>"$tmp/err" || fail "photometry model on a shard row"
[ "$(grep -c "photometry-only model: the shards' cutouts are not used" "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "no note that the shard's cutouts are unused"; }

# results that never reached standard output are a failure (exit 1, said)
for args in "--cutout $tmp/c.fits" "--cutout $tmp/c.fits --json" "--shard $shard --row 6"; do
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --samples 50 $args >/dev/full 2>"$tmp/err"; rc=$?
    [ $rc -eq 1 ] && grep -q "galpost: cannot write to standard output: No space left on device" "$tmp/err" \
        || { cat "$tmp/err"; fail "infer $args >/dev/full: exit $rc"; }
done
"$galpost" shards -t "$photo" --list-frames >/dev/full 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot write to standard output" "$tmp/err" || { cat "$tmp/err"; fail "shards --list-frames >/dev/full: exit $rc"; }
"$galpost" model info "$tmp/m.gpw" >/dev/full 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "model info >/dev/full: exit $rc"

# an output is never one of the inputs, by name or by another name (same inode)
cp "$tmp/cat.csv" "$tmp/same.csv"; cp "$tmp/c.fits" "$tmp/same.fits"
ln "$tmp/p.gpw" "$tmp/plink.gpw"
refuse() {   # refuse WHAT PATTERN FILE ARGS...: exit 2, the message, FILE unchanged
    what=$1; pat=$2; f=$3; shift 3
    cp "$f" "$tmp/before"
    "$galpost" "$@" >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && grep -q -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "$what: exit $rc"; }
    cmp -s "$f" "$tmp/before" || fail "$what: $f was changed"
}
refuse "catalogue -o itself" "-o and --catalog name the same file $tmp/same.csv: refusing to overwrite an input" "$tmp/same.csv" \
    infer --model "$tmp/p.gpw" --catalog "$tmp/same.csv" -o "$tmp/same.csv"
refuse "catalogue -o itself by another path" "-o $tmp/./same.csv is the same file as --catalog $tmp/same.csv" "$tmp/same.csv" \
    infer --model "$tmp/p.gpw" --catalog "$tmp/same.csv" -o "$tmp/./same.csv"
refuse "--samples-out on the cutout" "--samples-out and --cutout name the same file" "$tmp/same.fits" \
    infer --model "$tmp/m.gpw" --cutout "$tmp/same.fits" --samples-out "$tmp/same.fits"
refuse "-o on the model (a hard link)" "-o $tmp/plink.gpw is the same file as --model $tmp/p.gpw" "$tmp/p.gpw" \
    infer --model "$tmp/p.gpw" --catalog "$tmp/cat.csv" -o "$tmp/plink.gpw"
refuse "-o on a shard" "-o and --shard name the same file" "$shard" \
    infer --model "$tmp/m.gpw" --shard "$shard" -o "$shard"
refuse "--samples-out on a frame" "--samples-out and --frames name the same file" "$fg" \
    infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra 1 --dec 1 --samples-out "$fg"
refuse "train -o on its shard" "-o and shard name the same file" "$shard" \
    train --photometry -o "$shard" "$shard"
refuse "train -o on --encoder-from" "-o and --encoder-from name the same file" "$tmp/m.gpw" \
    train -o "$tmp/m.gpw" --encoder-from "$tmp/m.gpw" "$shard"
mkdir -p "$tmp/sh"; cp "$photo" "$tmp/sh/shards.log"
refuse "shards log on the export" "shards.log) and -t name the same file" "$tmp/sh/shards.log" \
    shards -t "$tmp/sh/shards.log" --frames "$tmp/field" -o "$tmp/sh"

# options a mode would ignore are refused, naming them
refuse "--json in a catalogue batch" "--json does not go with --catalog" "$tmp/cat.csv" \
    infer --model "$tmp/p.gpw" --catalog "$tmp/cat.csv" -o "$tmp/j.fits" --json
refuse "--samples-out in a shard batch" "--samples-out does not go with --shard" "$shard" \
    infer --model "$tmp/m.gpw" --shard "$shard" -o "$tmp/j.fits" --samples-out "$tmp/s.txt"
refuse "--mags with --shard" "--mags does not go with --shard" "$shard" \
    infer --model "$tmp/m.gpw" --shard "$shard" --row 1 --mags 19,18,17,16.5,16
refuse "--id in a shard batch" "--id does not go with --shard" "$shard" \
    infer --model "$tmp/m.gpw" --shard "$shard" -o "$tmp/j.fits" --id 5
refuse "--ra without --frames" "--ra and --dec go with --frames" "$tmp/c.fits" \
    infer --model "$tmp/m.gpw" --cutout "$tmp/c.fits" --ra 10 --dec 10
refuse "-o with --frames" "--frames infers one galaxy: -o, --keep-samples and --batch go with a batch" "$fg" \
    infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra 1 --dec 1 -o "$tmp/j.fits"
# --catalog beside --frames gives the colours: the refusal must not tell the user -o goes with --catalog,
# and names the batch of many galaxies on frames (--positions)
refuse "-o with --frames and --catalog" "--catalog FILE without --frames (many galaxies on the same frames: --frames ... --positions LIST -o OUT.fits)" "$fg" \
    infer --model "$tmp/m.gpw" --frames "$fg,$fr,$fi" --ra 1 --dec 1 --catalog "$tmp/cat.csv" -o "$tmp/j.fits"
refuse "--keep-samples with --cutout" "--cutout infers one galaxy: -o, --keep-samples and --batch go with a batch" "$tmp/c.fits" \
    infer --model "$tmp/m.gpw" --cutout "$tmp/c.fits" --keep-samples 5
# --frames as galpost shards takes it (a folder), and its list split by the shell, say how it is written
refuse "--frames FOLDER" "--frames $tmp/field is a folder: --frames takes the frame files, comma-separated" "$fg" \
    infer --model "$tmp/m.gpw" --frames "$tmp/field" --ra 1 --dec 1
refuse "--frames with spaces" "unexpected argument '$fr': --frames takes one comma-separated list" "$fg" \
    infer --model "$tmp/m.gpw" --frames "$fg" "$fr" "$fi" --ra 1 --dec 1
refuse "shards --list-frames -o" "-o does not go with --list-frames" "$photo" \
    shards -t "$photo" --list-frames -o "$tmp/j"
refuse "shards --release without --list-frames" "--release goes with --list-frames" "$photo" \
    shards -t "$photo" --frames "$tmp/field" -o "$tmp/j" --release dr16
[ -e "$tmp/j.fits" ] || [ -e "$tmp/s.txt" ] || [ -e "$tmp/j" ] && fail "a refused command wrote a file"
# --samples-out with --row is written (it was ignored)
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 2 --samples 30 --samples-out "$tmp/row.txt" >/dev/null 2>&1 \
    || fail "--row --samples-out"
[ "$(grep -c -v '^#' "$tmp/row.txt")" -eq 30 ] || fail "--row --samples-out: not 30 samples"

# errors
"$galpost" infer 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] || fail "no input: exit $rc"
for k in --cutout --frames --shard --catalog; do head -1 "$tmp/err" | grep -q -- "$k" || fail "no input: $k not named"; done
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/c.fits" --samples-out /nonexistent-dir/s.txt >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot write --samples-out /nonexistent-dir/s.txt: directory /nonexistent-dir does not exist" "$tmp/err" \
    || { cat "$tmp/err"; fail "--samples-out in a missing directory: exit $rc"; }
[ -s "$tmp/out" ] && fail "--samples-out in a missing directory: inferred anyway"
"$galpost" shards -t "$photo" --frames "$tmp/no-frames-here" -o "$tmp/sh2" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q -- "--frames $tmp/no-frames-here: no such directory" "$tmp/err" || { cat "$tmp/err"; fail "shards, missing frames directory: exit $rc"; }
"$galpost" infer --model "$tmp/m.gpw" --shard "$tmp/nope.fits" --row 1 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "missing shard: exit $rc"
grep -q "nope.fits" "$tmp/err" || fail "missing shard not named"
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" --row 9999 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "24 rows" "$tmp/err" || fail "row out of range: exit $rc"
# rows count from 1, as in every message: --row 0 is refused, saying so; --row 24 is the last
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" --row 0 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "bad --row '0': rows count from 1 (the first row is --row 1)" "$tmp/err" \
    || { cat "$tmp/err"; fail "--row 0: exit $rc"; }
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --shard "$shard" --row 24 --samples 20 >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "--row 24 (the last of 24)"; }
grep -q "^input: $shard: row 24, objID " "$tmp/out" || { cat "$tmp/out"; fail "--row 24: the input line"; }
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" --row 25 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q -- "--row 25: the shards have 24 rows" "$tmp/err" || { cat "$tmp/err"; fail "--row 25 of 24: exit $rc"; }
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" -o /nonexistent-dir/p.fits 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot write -o /nonexistent-dir/p.fits: directory /nonexistent-dir does not exist" "$tmp/err" \
    || { cat "$tmp/err"; fail "unwritable output: exit $rc"; }
"$galpost" infer --model "$tmp/m.gpw" --shard "$shard" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--shard without --row or -o: exit $rc"
"$galpost" infer --samples 1 --cutout x.fits 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--samples 1: exit $rc"
"$galpost" infer --mags 1,2,3 --cutout x.fits 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "bad --mags: exit $rc"
"$galpost" infer --model "$tmp/none.gpw" --shard "$shard" --row 1 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "none.gpw" "$tmp/err" || fail "missing model: exit $rc"
# a masked core whose mirror pixels are masked too: the refusal names the
# masked pixels and does not ask whether there is a galaxy at the position
mkdir -p "$tmp/hole"
set -- $("$top/tests/gp_test_frames" "$tmp/hole" --hole 3 | head -1)
h="$tmp/hole/frame"
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --ra "$2" --dec "$3" \
    --frames "$h-g-000001-1-0001.fits,$h-r-000001-1-0001.fits,$h-i-000001-1-0001.fits,$h-u-000001-1-0001.fits,$h-z-000001-1-0001.fits" \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "lies under [0-9]* masked pixels whose mirror images" "$tmp/err" \
    && ! grep -q "is there a galaxy" "$tmp/err" && [ ! -s "$tmp/out" ] \
    || fail "masked core: exit $rc: $(cat "$tmp/err")"
# frames in counts with an AB zero point (MAGZP; the same sky as 200 counts
# per nanomaggy on 1000 counts of sky): converted and sky-subtracted, they
# give the nanomaggy frames' magnitudes and, within sampling noise (the
# cutouts differ by the local sky's error, so the galaxy's id and its
# samples do), the same posterior; the output says what was done to them;
# without MAGZP they are refused naming the keywords that would do
mkdir -p "$tmp/nmgy" "$tmp/zp" "$tmp/nozp"
set -- $("$top/tests/gp_test_frames" "$tmp/nmgy" | sed -n 2p)
zra=$2 zdec=$3
"$top/tests/gp_test_frames" "$tmp/zp" --counts --magzp >/dev/null || fail "gp_test_frames --counts --magzp"
"$top/tests/gp_test_frames" "$tmp/nozp" --counts >/dev/null || fail "gp_test_frames --counts"
for d in nmgy zp nozp; do
    f="$tmp/$d/frame"
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --ra "$2" --dec "$3" --samples 400 \
        --frames "$f-g-000001-1-0001.fits,$f-r-000001-1-0001.fits,$f-i-000001-1-0001.fits,$f-u-000001-1-0001.fits,$f-z-000001-1-0001.fits" \
        >"$tmp/$d.txt" 2>"$tmp/$d.err"; echo $? >"$tmp/$d.rc"
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --ra "$2" --dec "$3" --samples 400 --json \
        --frames "$f-g-000001-1-0001.fits,$f-r-000001-1-0001.fits,$f-i-000001-1-0001.fits,$f-u-000001-1-0001.fits,$f-z-000001-1-0001.fits" \
        >"$tmp/$d.json" 2>/dev/null
done
[ "$(cat "$tmp/nmgy.rc") $(cat "$tmp/zp.rc")" = "0 0" ] || fail "counts with MAGZP: $(cat "$tmp/zp.err")"
grep -q "^pixels: " "$tmp/nmgy.txt" && fail "nanomaggy frames given a pixels line: $(cat "$tmp/nmgy.txt")"
grep -q '"pixels"' "$tmp/nmgy.json" && fail "nanomaggy frames given a pixels key"
grep "^pixels: " "$tmp/zp.txt" | grep -q "r $tmp/zp/frame-r-000001-1-0001.fits: 'counts' (BUNIT) x 10^(-0.4 (MAGZP - 22.5)), MAGZP = 28.25, local sky subtracted from the cutout" \
    || fail "counts with MAGZP: no pixels line: $(cat "$tmp/zp.txt")"
grep -q '"pixels": "u [^"]*MAGZP = 28.25; g ' "$tmp/zp.json" || fail "counts with MAGZP: no pixels key: $(head -c 400 "$tmp/zp.json")"
[ "$(grep "^magnitudes" "$tmp/nmgy.txt")" = "$(grep "^magnitudes" "$tmp/zp.txt")" ] \
    || fail "counts with MAGZP: magnitudes $(grep "^magnitudes" "$tmp/zp.txt") vs $(grep "^magnitudes" "$tmp/nmgy.txt")"
q() { grep -o '"lgm_tot_p50": {"median": [-0-9.e]*, "p16": [-0-9.e]*, "p84": [-0-9.e]*, "mean": [-0-9.e]*, "std": [-0-9.e]*' "$1" \
      | sed 's/.*"median": \([-0-9.e]*\),.*"std": \([-0-9.e]*\)/\1 \2/'; }
set -- $(q "$tmp/nmgy.json") $(q "$tmp/zp.json")
# two medians of 400 samples: 1.25 sigma / sqrt(400) each; 4 sigma of their difference
awk -v a="$1" -v s="$2" -v b="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 4 * 1.25 * s * sqrt(2) / 20) }' \
    || fail "counts with MAGZP: log M* median $3 vs $1 (std $2) beyond sampling noise"
[ "$(cat "$tmp/nozp.rc")" = 1 ] && grep -q "'counts' (BUNIT) with no photometric zero point" "$tmp/nozp.err" \
    && grep -q "MAGZP, MAGZERO, PHOTZP or FLUXMAG0" "$tmp/nozp.err" && grep -q -- "--zeropoint" "$tmp/nozp.err" \
    || fail "counts without MAGZP: $(cat "$tmp/nozp.err")"
# --zeropoint: the frames without MAGZP given its value by hand are the MAGZP
# frames (the same magnitudes to the printed digit), and the pixels line says
# where the zero point came from; per band too; a malformed value, or one
# without --frames, is a usage error
f="$tmp/nozp/frame"
nozp_frames="$f-g-000001-1-0001.fits,$f-r-000001-1-0001.fits,$f-i-000001-1-0001.fits,$f-u-000001-1-0001.fits,$f-z-000001-1-0001.fits"
for zp in 28.252575 u=28.252575,g=28.252575,r=28.252575,i=28.252575,z=28.252575; do
    "$galpost" infer --model "$tmp/m.gpw" --backend cpu --ra "$zra" --dec "$zdec" --samples 400 \
        --frames "$nozp_frames" --zeropoint "$zp" >"$tmp/hand.txt" 2>"$tmp/hand.err" || fail "--zeropoint $zp: $(cat "$tmp/hand.err")"
    [ "$(grep "^magnitudes" "$tmp/hand.txt")" = "$(grep "^magnitudes" "$tmp/zp.txt")" ] \
        || fail "--zeropoint $zp: magnitudes $(grep "^magnitudes" "$tmp/hand.txt") vs $(grep "^magnitudes" "$tmp/zp.txt")"
    grep "^pixels: " "$tmp/hand.txt" | grep -q "r $f-r-000001-1-0001.fits: 'counts' (BUNIT) x 10^(-0.4 (ZP - 22.5)), ZP = 28.25 given by --zeropoint, local sky subtracted from the cutout" \
        || fail "--zeropoint $zp: pixels line: $(grep "^pixels" "$tmp/hand.txt")"
done
# only u and z given: g is still refused, naming its file
"$galpost" infer --model "$tmp/m.gpw" --backend cpu --ra "$zra" --dec "$zdec" --samples 400 \
    --frames "$nozp_frames" --zeropoint u=28.25,z=28.25 >/dev/null 2>"$tmp/hand.err"
[ $? = 1 ] && grep -q "frame-g-000001-1-0001.fits (HDU 1): its pixels are in 'counts'" "$tmp/hand.err" \
    || fail "--zeropoint u=,z= only: $(cat "$tmp/hand.err")"
for bad in abc 28,5 g=99 q=27 nan; do
    "$galpost" infer --model "$tmp/m.gpw" --ra "$zra" --dec "$zdec" --frames "$nozp_frames" --zeropoint "$bad" \
        >/dev/null 2>"$tmp/hand.err"
    [ $? = 2 ] && grep -q "galpost infer: --zeropoint: zero point: " "$tmp/hand.err" || fail "--zeropoint $bad: $(cat "$tmp/hand.err")"
done
"$galpost" infer --model "$tmp/m.gpw" --cutout "$tmp/zp/frame-g-000001-1-0001.fits" --zeropoint 27 >/dev/null 2>"$tmp/hand.err"
[ $? = 2 ] && grep -q "zeropoint goes with --frames" "$tmp/hand.err" || fail "--zeropoint with --cutout: $(cat "$tmp/hand.err")"
echo "ok"
