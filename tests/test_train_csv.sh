#!/bin/sh
# test_train_csv.sh: the training table as CSV, as CasJobs downloads it,
# through the command line.  A small mock (`galpost mock shards`) is written
# out as CSV by tests/gp_test_table_csv (every value with 17 significant
# digits, so strtod gives back the very value of the FITS table); `galpost
# train --photometry` on the CSV files makes the same model as on the FITS
# shards (same data fingerprint, same tensors, same metadata but for the
# provenance and timings), and `galpost eval` of it on the CSV writes the
# same tables as on FITS, --record included.  Bad cells written as CasJobs
# writes them (null, empty, -9999) are counted in the data report; the image
# model is refused a CSV naming the file; a ragged row or text in a numeric
# column is refused naming file, line and column.
set -u
top=${GP_TOP_BUILDDIR:?GP_TOP_BUILDDIR is not set (run through make check)}
src=${GP_TOP_SRCDIR:?GP_TOP_SRCDIR is not set (run through make check)}
G=$top/galpost
TOCSV=$top/tests/gp_test_table_csv
[ -x "$G" ] || { echo "no galpost binary at $G"; exit 99; }
[ -x "$TOCSV" ] || { echo "no tests/gp_test_table_csv at $TOCSV"; exit 99; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gp_train_csv.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

"$G" mock shards -n 400 --shard-size 200 --seed 5 -o "$T/m" 2>"$T/err" || fail "mock shards: $(cat "$T/err")"
mkdir "$T/c" || exit 99
"$TOCSV" "$T/m/shard-00000.fits" >"$T/c/a.csv" || fail "gp_test_table_csv shard 0"
"$TOCSV" "$T/m/shard-00001.fits" >"$T/c/b.raw" || fail "gp_test_table_csv shard 1"
[ "$(wc -l <"$T/c/a.csv")" -eq 201 ] || fail "a.csv has $(wc -l <"$T/c/a.csv") lines, not a header and 200 rows"
# the second file dressed as a download may be: a preamble and a comment with commas before the
# header, lower-case names (SkyServer's objid), a comment and a blank line among the rows, CRLF
{
    printf '#Table1\n# galpost_train, CasJobs, DR17\n'
    sed -n 1p "$T/c/b.raw" | tr 'A-Z' 'a-z'
    sed -n 2,101p "$T/c/b.raw"
    printf '# page 2\n\n'
    sed -n '102,$p' "$T/c/b.raw"
} | sed 's/$/\r/' >"$T/c/b.csv"
grep -q '^objid,ra,dec,z,modelmag_u,' "$T/c/b.csv" || fail "b.csv's header is not in lower case"

opts="--photometry --ensemble 2 --flow-epochs 3 --patience 2 --threads 1 --seed 3"
# shellcheck disable=SC2086
"$G" train $opts -o "$T/f.gpw" -w "$T/f.work" "$T/m/shard-00000.fits" "$T/m/shard-00001.fits" >"$T/f.out" 2>&1 \
    || fail "train --photometry on FITS: $(tail -5 "$T/f.out")"
# shellcheck disable=SC2086
"$G" train $opts -o "$T/c.gpw" -w "$T/c.work" "$T/c/a.csv" "$T/c/b.csv" >"$T/c.out" 2>&1 \
    || fail "train --photometry on CSV: $(tail -5 "$T/c.out")"
grep -q '^data: 400 rows in 2 shards, 400 usable, 0 bad;' "$T/c.out" || fail "CSV data report: $(grep data: "$T/c.out")"
[ "$(grep '^data:' "$T/c.out")" = "$(grep '^data:' "$T/f.out")" ] || fail "data reports differ"
# the checkpoint's data fingerprint (objIDs, magnitudes, targets, flags, bad rows)
fp() { "$G" model info "$1" | awk '$1 == "ckpt.set.data" { print }'; }
fpf=$(fp "$T/f.work/checkpoint.gpw")
[ -n "$fpf" ] || fail "no ckpt.set.data in the FITS run's checkpoint"
[ "$(fp "$T/c.work/checkpoint.gpw")" = "$fpf" ] || fail "data fingerprints differ: $fpf vs $(fp "$T/c.work/checkpoint.gpw")"
# the models: every metadata key and tensor statistic alike, but the provenance, timings and file
info() {
    "$G" model info "$1" | grep -v -E '^(file|size|checksum):|provenance\.(command|date|data) |seconds' >"$2" \
        || fail "model info $1"
}
info "$T/f.gpw" "$T/f.info"
info "$T/c.gpw" "$T/c.info"
grep -q 'tensors (' "$T/c.info" || fail "model info lists no tensors"
diff "$T/f.info" "$T/c.info" >"$T/diff" || fail "the CSV-trained model differs: $(head -20 "$T/diff")"
"$G" model info "$T/c.gpw" | grep -q "provenance.data .*a.csv,.*b.csv" || fail "provenance.data does not name the CSV files"

# ---- eval: the same tables on CSV as on FITS ----
"$G" eval -m "$T/f.gpw" -o "$T/fe" "$T/m/shard-00000.fits" "$T/m/shard-00001.fits" >"$T/fe.out" 2>&1 \
    || fail "eval on FITS: $(tail -5 "$T/fe.out")"
"$G" eval -m "$T/c.gpw" -o "$T/ce" "$T/c/a.csv" "$T/c/b.csv" >"$T/ce.out" 2>&1 || fail "eval on CSV: $(tail -5 "$T/ce.out")"
"$G" eval -m "$T/f.gpw" -o "$T/xe" "$T/c/a.csv" "$T/c/b.csv" >"$T/xe.out" 2>&1 \
    || fail "eval of the FITS-trained model on CSV: $(tail -5 "$T/xe.out")"
[ "$(wc -l <"$T/fe/galaxies.csv")" -eq 61 ] || fail "galaxies.csv has $(wc -l <"$T/fe/galaxies.csv") lines, not 60 test galaxies"
for e in ce xe; do
    for f in metrics.csv galaxies.csv eval.log; do
        cmp -s "$T/fe/$f" "$T/$e/$f" || fail "$e/$f differs from the FITS evaluation's"
    done
    sed 1d "$T/fe/report.md" >"$T/r1"
    sed 1d "$T/$e/report.md" >"$T/r2"
    cmp -s "$T/r1" "$T/r2" || fail "$e/report.md differs from the FITS evaluation's (beyond its title line)"
done
# --record: the same figures recorded; the rule against another split holds for a CSV too
cp "$T/f.gpw" "$T/fr.gpw" && cp "$T/c.gpw" "$T/cr.gpw" || exit 99
"$G" eval -m "$T/fr.gpw" -o "$T/fre" --record "$T/m/shard-00000.fits" "$T/m/shard-00001.fits" >"$T/out" 2>&1 \
    || fail "eval --record on FITS: $(tail -3 "$T/out")"
"$G" eval -m "$T/cr.gpw" -o "$T/cre" --record "$T/c/a.csv" "$T/c/b.csv" >"$T/out" 2>&1 \
    || fail "eval --record on CSV: $(tail -3 "$T/out")"
"$G" model info "$T/fr.gpw" | grep -E '^  eval\.' | grep -v -E 'eval\.(date|command|seconds|data)' >"$T/fr.eval"
"$G" model info "$T/cr.gpw" | grep -E '^  eval\.' | grep -v -E 'eval\.(date|command|seconds|data)' >"$T/cr.eval"
[ -s "$T/cr.eval" ] || fail "eval --record on CSV recorded no eval.* keys"
diff "$T/fr.eval" "$T/cr.eval" >"$T/diff" || fail "recorded figures differ: $(head -10 "$T/diff")"
cp "$T/c.gpw" "$T/cr2.gpw" || exit 99
"$G" eval -m "$T/cr2.gpw" -o "$T/cre2" --record "$T/c/a.csv" >"$T/out" 2>&1
grep -q 'figures not recorded: this test split has' "$T/out" || fail "--record on half the rows (CSV) not refused: $(tail -3 "$T/out")"
# the same rows with no measurable O/H: the split is the model's, but 12+log(O/H) has no figures
# (NaN); --record refuses, naming the quantity and why, and leaves the file as it was
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "oh_measurable") m = i; print; next } { $m = 0; print }
    END { exit !m }' "$T/c/a.csv" >"$T/c/noa.csv" || fail "a.csv has no oh_measurable column"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "oh_measurable") m = i; print; next } m { $m = 0 } { print }' \
    "$T/c/b.raw" >"$T/c/nob.csv" || exit 99
cp "$T/c.gpw" "$T/cr3.gpw" || exit 99
sum_before=$(cksum <"$T/cr3.gpw")
"$G" eval -m "$T/cr3.gpw" -o "$T/cre3" --no-baselines --record "$T/c/noa.csv" "$T/c/nob.csv" >"$T/out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "--record with no measurable O/H: rc $rc, $(grep -a -E "recorded|finite" "$T/out")"
grep -q "galpost eval: $T/cr3.gpw: figures not recorded: no figures for 12+log(O/H): 0 test galaxies with measurable metallicity, at least 2 are needed; the report shows them as nan" "$T/out" \
    || fail "--record with no measurable O/H does not say why: $(grep -a -E "recorded|finite" "$T/out")"
grep -q 'not finite' "$T/out" && fail "--record with no measurable O/H shows the writer's message: $(grep -a -E "recorded|finite" "$T/out")"
grep -q 'no figures for log M\*' "$T/out" && fail "--record blames a quantity with figures: $(grep -a -E "recorded|finite" "$T/out")"
[ "$(cksum <"$T/cr3.gpw")" = "$sum_before" ] || fail "a refused --record changed the model file"

# ---- bad cells as CasJobs writes them ----
# three rows usable in the clean file (every cell a number, none -9999: their oh_p50 is measured)
# get null in modelMag_u, an empty lgm_tot_p50 and -9999 in h_alpha_flux
awk -F, -v OFS=, '
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next }
{
    clean = $0 !~ /(^|,)(NaN|-9999)(,|$)/ && $(c["z"]) > 0
    if (clean && k < 3) {
        k++
        if (k == 1) $(c["modelMag_u"]) = "null"
        if (k == 2) $(c["lgm_tot_p50"]) = ""
        if (k == 3) $(c["h_alpha_flux"]) = "-9999"
    }
    print
}
END { if (k < 3) exit 1 }' "$T/c/a.csv" >"$T/c/bad.csv" || fail "fewer than 3 clean rows in a.csv"
"$G" train --photometry --ensemble 1 --flow-epochs 1 --threads 1 -o "$T/bad.gpw" -w "$T/bad.work" "$T/c/bad.csv" \
    >"$T/bad.out" 2>&1 || fail "train on a CSV with bad cells: $(tail -3 "$T/bad.out")"
grep -q '^data: 200 rows in 1 shard, 197 usable, 3 bad;' "$T/bad.out" || fail "bad cells not counted: $(grep data: "$T/bad.out")"
grep -q '^  bad rows: 1 with unusable photometry' "$T/bad.out" || fail "null magnitude not counted: $(cat "$T/bad.out")"
grep -q '^  bad rows: 1 with unusable core labels' "$T/bad.out" || fail "empty lgm_tot_p50 not counted"
grep -q '^  bad rows: 1 with unusable line fluxes' "$T/bad.out" || fail "-9999 Halpha not counted"

# ---- the image model needs images ----
"$G" train -o "$T/img.gpw" -w "$T/img.work" --threads 1 "$T/c/a.csv" >"$T/out" 2>&1; rc=$?
[ $rc -ne 0 ] || fail "the image model trained on a CSV"
grep -q "$T/c/a.csv: a CSV table has no cutouts, and this model needs images: give it FITS shards" "$T/out" \
    || fail "image model + CSV: $(cat "$T/out")"
[ -e "$T/img.gpw" ] && fail "a model file was written"
def=$src/weights/galpost-default.gpw
if [ -s "$def" ] && "$G" model info "$def" >/dev/null 2>&1; then
    "$G" eval -m "$def" -o "$T/ie" "$T/c/a.csv" >"$T/out" 2>&1; rc=$?
    [ $rc -ne 0 ] || fail "eval of the image model on a CSV succeeded"
    grep -q "$T/c/a.csv: a CSV table has no cutouts, and this model needs images" "$T/out" \
        || fail "eval image model + CSV: $(cat "$T/out")"
fi

# ---- malformed CSV: file, line and column ----
{ sed -n 1,4p "$T/c/a.csv"; sed -n 5p "$T/c/a.csv" | cut -d, -f1-10; sed -n '6,$p' "$T/c/a.csv"; } >"$T/c/rag.csv"
"$G" train $opts -o "$T/rag.gpw" -w "$T/rag.work" "$T/c/rag.csv" >"$T/out" 2>&1; rc=$?
[ $rc -ne 0 ] || fail "a ragged CSV trained"
n=$(sed -n 1p "$T/c/a.csv" | awk -F, '{ print NF }')
grep -q "$T/c/rag.csv: line 5: 10 fields, the header (line 1) has $n columns" "$T/out" || fail "ragged row: $(cat "$T/out")"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "modelMag_g") g = i } NR == 7 { $g = "abc" } { print }' \
    "$T/c/a.csv" >"$T/c/text.csv"
"$G" eval -m "$T/c.gpw" -o "$T/te" "$T/c/text.csv" >"$T/out" 2>&1; rc=$?
[ $rc -ne 0 ] || fail "text in a numeric column was evaluated"
grep -q "$T/c/text.csv: line 7, column 'modelMag_g': 'abc' is not a number" "$T/out" || fail "text cell: $(cat "$T/out")"
exit 0
