#!/bin/sh
# test_ds9_frames.sh: the plugin on frames that are not SDSS's own, as an
# observer loads them at the telescope, with the real programs (Xvfb, DS9,
# galpostd, XPA).  Mock g, r, i, u, z frames (tests/gp_test_frames) of one
# sky written four more ways:
#   - through a WCS in galactic coordinates (GLON/GLAT): DS9 places the
#     circle through it, galpostd must cut and measure the galaxy there (it
#     read l, b as RA, Dec and said the galaxy was off every image);
#   - with the WCS labelled FK4 B1950: refused naming the system (it was
#     read as ICRS: the wrong place, or 'off every image');
#   - in counts (BUNIT = 'counts'): refused naming the unit (its pixels were
#     taken for nanomaggies: magnitudes 5.75 too bright, posteriors absurd);
#   - in counts with an AB zero point (MAGZP): calibrated and sky-subtracted,
#     the nanomaggy frames' magnitudes within 0.002, and the summary says so
#     (refused as counts before);
#   - in counts without a zero point, given one by hand (set zeropoint):
#     the MAGZP frames' results (refused as counts before);
# galpostd keeps serving after each refusal.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess awk

D=gpf
for v in eq gal fk4 counts zp; do mkdir -p "$WORK/$v"; done
"$B/tests/gp_test_frames" "$WORK/eq" >"$WORK/galaxies" || fail "gp_test_frames"
"$B/tests/gp_test_frames" "$WORK/gal" --galactic >/dev/null || fail "gp_test_frames --galactic"
"$B/tests/gp_test_frames" "$WORK/fk4" --fk4 >/dev/null || fail "gp_test_frames --fk4"
"$B/tests/gp_test_frames" "$WORK/counts" --counts >/dev/null || fail "gp_test_frames --counts"
"$B/tests/gp_test_frames" "$WORK/zp" --counts --magzp >/dev/null || fail "gp_test_frames --counts --magzp"
set -- $(sed -n 1p "$WORK/galaxies"); RA1=$2 DEC1=$3
"$B/galpost" model random "$WORK/model.gpw" --seed 5 >/dev/null || fail "galpost model random"

start_xvfb
start_ds9 $D -mode region
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5

load_frames() {   # load_frames DIR: the g, r, i, u, z frames, r current
    xpaset -p $D frame delete all
    for b in g r i u z; do
        xpaset -p $D frame new
        xpaset -p $D fits "$1/frame-$b-000001-1-0001.fits" || fail "DS9 cannot load $1 $b"
    done
    xpaset -p $D tile yes
    xpaset -p $D frame 2
}
# infer_circle TAG: a selected 8" circle on galaxy 1, inferred; prints the job's state
infer_circle() {
    xpaset -p $D regions delete all
    echo "icrs; circle($RA1,$DEC1,8\")" | xpaset $D regions || fail "region"
    xpaset -p $D regions selectall
    xpaset -p galpost infer selected tag "$1" || fail "infer $1 refused"
    wait_job "$1"
}
# facts: ugriz and each band's cutout peak position from the last summary json
facts() {
    xpaget galpost summary json | awk '
        /"mag": \{/ { s = $0; sub(/.*"mag": \{/, "", s); n = split(s, p, ","); for (i = 1; i <= 5; i++) { v = p[i]; sub(/.*: /, "", v); sub(/\}.*/, "", v); printf "%s ", v } }
        /"cutout": \{/ { s = $0; while (match(s, /"peak_x": [0-9]+, "peak_y": [0-9]+/)) { t = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH); gsub(/[^0-9 ]/, "", t); printf "%s ", t } }
        END { print "" }'
}
# the galaxy's peak within 3 px of the cutout centre in g, r and i
centred() {
    echo "$1" | awk '{ for (i = 6; i <= 11; i++) if ($i < 77 || $i > 82) exit 1; exit NF == 11 ? 0 : 1 }'
}

# 1. equatorial frames: the reference
load_frames "$WORK/eq"
contains "$(infer_circle eq)" "eq done" "galaxy 1 on the equatorial frames"
contains "$(xpaget galpost summary json)" '"pixels": null' "nanomaggy frames: no pixels note"
ref=$(facts)
centred "$ref" || fail "equatorial frames: the galaxy is not at the cutout centre ($ref)"
pass "equatorial: ugriz and peaks $ref"

# same_mags REF GOT TOL: the first five fields (ugriz) of the two fact lines within TOL mag
same_mags() {
    echo "$1|$2" | awk -F'|' -v tol="$3" '{ split($1, a, " "); split($2, b, " ")
        for (i = 1; i <= 5; i++) { d = a[i] - b[i]; if (d < 0) d = -d; if (!(d < tol)) { printf "band %d: %s vs %s\n", i, a[i], b[i]; exit 1 } } }'
}

# 2. galactic WCS: the same galaxy, the same magnitudes, centred
load_frames "$WORK/gal"
contains "$(xpaget $D fits header | grep CTYPE1)" "GLON-TAN" "DS9 shows the galactic WCS"
contains "$(infer_circle gal)" "gal done" "galaxy 1 on the galactic frames (selected circle)"
got=$(facts)
centred "$got" || fail "galactic frames: the galaxy is not at the cutout centre ($got)"
same_mags "$ref" "$got" 0.05 || fail "galactic frames: magnitudes differ from the equatorial frames' ($got vs $ref)"
pass "galactic: ugriz and peaks $got (equatorial: $ref)"
xpaset -p galpost infer "$RA1" "$DEC1" tag galpos || fail "infer RA DEC"
contains "$(wait_job galpos)" "galpos done" "galactic frames: infer RA DEC"
# the overlay is drawn at the galaxy in the current (galactic) frame
ov=$(xpaget $D regions -format ds9 -system wcs -sky icrs -skyformat degrees)
printf '%s\n' "$ov" | awk -v ra=$RA1 -v dec=$DEC1 '
    /text\(/ && /galpost/ { s = $0; sub(/.*text\(/, "", s); split(s, p, /[,)]/)
        dra = (p[1] - ra) * cos(dec * 3.14159265 / 180) * 3600; dd = (p[2] - dec) * 3600
        if (dra * dra + dd * dd < 60 * 60) ok = 1 }
    END { exit ok ? 0 : 1 }' || fail "no galpost text within 60\" of the galaxy in the galactic frame: $ov"
pass "galactic frames: the overlay is drawn beside the galaxy"

# 3. FK4 B1950 WCS: refused naming the system
load_frames "$WORK/fk4"
st=$(infer_circle fk4)
contains "$st" "fk4 failed" "FK4 frames refused"
contains "$st" "FK4 B1950" "the refusal names the FK4 B1950 system"
contains "$st" "frame-g-000001-1-0001.fits" "the refusal names the frame"

# 4. counts: refused naming the unit
load_frames "$WORK/counts"
st=$(infer_circle counts)
contains "$st" "counts failed" "frames in counts refused"
contains "$st" "'counts' (BUNIT)" "the refusal names the unit"
contains "$st" "nanomaggies" "the refusal says what is needed"

# 4b. counts with an AB zero point (MAGZP, as DS9 sends the header): calibrated,
# the same magnitudes (the same sky, 200 DN per nanomaggy on 1000 DN), and the
# summary says what was done to the pixels
load_frames "$WORK/zp"
contains "$(infer_circle zp)" "zp done" "frames in counts with MAGZP measured"
got=$(facts)
centred "$got" || fail "counts with MAGZP: the galaxy is not at the cutout centre ($got)"
same_mags "$ref" "$got" 0.002 || fail "counts with MAGZP: magnitudes differ from the nanomaggy frames' ($got vs $ref)"
sum=$(xpaget galpost summary)
contains "$sum" "x 10^(-0.4 (MAGZP - 22.5)), MAGZP = 28.25, local sky subtracted from the cutout" "the summary says the g, r, i pixels were calibrated and sky-subtracted"
contains "$(xpaget galpost summary json)" '"pixels": "u ' "the summary json lists the calibrated frames"
pass "counts with MAGZP: ugriz and peaks $got"

# 4c. counts without a zero point keyword, given one by hand (set zeropoint,
# as DS9 users cannot edit headers): the MAGZP frames' magnitudes, and the
# summary says where the zero point came from; 'header' takes it back (the
# same frames, cached by galpostd, are refused again); a malformed value is
# refused by set, the setting unchanged
load_frames "$WORK/counts"
out=$(xpaset -p galpost set zeropoint 28.25.1 2>&1) && fail "set zeropoint 28.25.1 accepted"
contains "$out" "zero point: '28.25.1' is not 'header', a magnitude" "a malformed zero point refused by set"
[ "$(xpaget galpost set zeropoint)" = header ] || fail "a refused zero point changed the setting"
xpaset -p galpost set zeropoint 28.252575 || fail "set zeropoint"
[ "$(xpaget galpost set zeropoint)" = 28.2526 ] || fail "set zeropoint reads back $(xpaget galpost set zeropoint)"
contains "$(infer_circle hand)" "hand done" "frames in counts with a zero point set by hand measured"
hand=$(facts)
[ "$hand" = "$got" ] || fail "set zeropoint: $hand, the MAGZP frames gave $got"
contains "$(xpaget galpost summary)" "'counts' (BUNIT) x 10^(-0.4 (ZP - 22.5)), ZP = 28.25 given by set zeropoint, local sky subtracted from the cutout" \
    "the summary says the zero point was set by hand"
xpaset -p galpost set zeropoint header || fail "set zeropoint header"
contains "$(infer_circle nohand)" "nohand failed" "set zeropoint header: the frames in counts refused again"
pass "set zeropoint: ugriz and peaks $hand"

# 5. still serving
load_frames "$WORK/eq"
contains "$(infer_circle again)" "again done" "galpostd serves after the refusals"
contains "$(xpaget galpost status)" "requests: 6 done, 3 failed" "six done, three refused"
echo "PASS: $TEST"
