#!/bin/sh
# test_source_check_cli.sh: the source check reaches `galpost infer` output
# end to end: cutout FITS files (a galaxy, blank noise, zeros; written by
# test_source_check --write-cutouts) inferred with a random model; the
# blank and zero cutouts carry flag 2048 (JSON flags, the text warning), the
# galaxy does not, and source_snr is in the JSON.
set -u
top=${GP_TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
galpost="$top/galpost"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$galpost" model random "$tmp/m.gpw" --small --seed 4 >/dev/null || fail "model random"
"$top/tests/test_source_check" --write-cutouts "$tmp" 2>/dev/null || fail "write cutouts"
mags=18.5,17.2,16.6,16.2,16.0
for c in galaxy blank zeros; do
    j=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/$c.fits" --mags $mags --samples 50 --json 2>"$tmp/err") \
        || { cat "$tmp/err"; fail "$c: infer --json"; }
    flags=$(echo "$j" | sed -n 's/.*"flags": \([0-9]*\),.*/\1/p')
    [ -n "$flags" ] || fail "$c: no flags in $j"
    snr=$(echo "$j" | sed -n 's/.*"source_snr": \([-0-9.e+]*\),.*/\1/p')
    [ -n "$snr" ] || fail "$c: no numeric source_snr in $j"
    echo "$j" | grep -E -q '"source_peak": [0-9.e+-]+' || fail "$c: no numeric source_peak in $j"
    t=$("$galpost" infer --model "$tmp/m.gpw" --backend cpu --cutout "$tmp/$c.fits" --mags $mags --samples 50 2>"$tmp/err") \
        || { cat "$tmp/err"; fail "$c: infer"; }
    echo "# $c: flags $flags, source_snr $snr"
    if [ $c = galaxy ]; then
        [ $((flags & 2048)) -eq 0 ] || fail "galaxy flagged no-source: $j"
        awk -v s="$snr" 'BEGIN { exit !(s > 15) }' || fail "galaxy: source_snr $snr not above 15"
        echo "$t" | grep -q "no source" && fail "galaxy: text warns of no source: $t"
    else
        [ $((flags & 2048)) -ne 0 ] || fail "$c not flagged no-source: $j"
        awk -v s="$snr" 'BEGIN { exit !(s < 15) }' || fail "$c: source_snr $snr not below 15"
        echo "$t" | grep -q "WARNING: no source at the centre" || fail "$c: no warning in the text: $t"
    fi
done
exit 0
