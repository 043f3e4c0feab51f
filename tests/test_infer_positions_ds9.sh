#!/bin/sh
# test_infer_positions_ds9.sh: `galpost infer --frames U,G,R,I,Z
# --positions REGIONS -o OUT.fits` on region files that the real DS9
# (under Xvfb, XPA_METHOD=local) saves on the real SDSS r frame of field
# 004510-4-0030 (../shared/data; skipped, exit 77, without them or without
# DS9): circles, a point, an ellipse, a box and an annulus on four
# main-sample galaxies, one circle with text={objID}, and an excluded
# circle.  Saved in fk5 degrees (regions save) and sexagesimal (xpaget
# regions), each row equals the row of a CSV list holding the centres as
# DS9 wrote them (an independent sed reading of the file), samples and
# summary alike; the text's objID is the row's id; the excluded region is a
# failed row that says so.  Saved in galactic coordinates, each centre is
# within 0.1 arcsec of the fk5 file's; in fk4, within 0.5 arcsec (DS9
# converts at the image's date, galpost at B1950).  xpaget's regions piped into
# --positions - give the fk5 file's rows.  Saved as DS9 does by default
# (physical pixels), in image coordinates or in ecliptic ones, every row
# fails, naming the file, the row, its line and what to save instead.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
data=${GP_SHARED_DATA:-$S/../shared/data}
fd=$data/sdss-frames/004510-4-0030
[ -r "$fd/frame-r-004510-4-0030.fits.bz2" ] || { echo "SKIP: no $fd (../shared/data absent)"; exit 77; }
need ds9 Xvfb xpaset xpaget xpaaccess bunzip2
galpost=$B/galpost
dump=$B/tests/gp_test_results_dump
frames=
for b in u g r i z; do frames="$frames${frames:+,}$fd/frame-$b-004510-4-0030.fits.bz2"; done
common="--model $S/weights/galpost-default.gpw --backend cpu --threads 1 --seed 3 --samples 50 --keep-samples 50"

D=gpreg
bunzip2 -c "$fd/frame-r-004510-4-0030.fits.bz2" >"$WORK/r.fits" || fail "bunzip2"
start_xvfb
start_ds9 $D
xpaset -p $D fits "$WORK/r.fits" || fail "DS9 cannot load the r frame"
region() { echo "$1" | xpaset $D regions || fail "DS9 region '$1'"; }
region 'fk5; circle 200.377497 36.903089 5"'
region 'fk5; circle 200.448238 36.768266 5" # text={1237665440979615837}'
region 'fk5; point 13:22:02.342 +36:43:54.70 # point=x'
region 'fk5; ellipse 200.512458 36.748041 6" 3" 30'
region 'fk5; -circle 200.40 36.80 10"'
region 'fk5; box 200.377497 36.903089 10" 5" 0'
region 'fk5; annulus 200.448238 36.768266 3" 6"'
[ "$(xpaget $D regions -format ds9 -system image | grep -c '(')" = 7 ] || fail "DS9 holds $(xpaget $D regions) "
xpaset -p $D regions save "$WORK/physical.reg" || fail "regions save (DS9's default system)"
xpaset -p $D regions system wcs && xpaset -p $D regions sky fk5 && xpaset -p $D regions skyformat degrees \
    || fail "regions system wcs, sky fk5"
xpaset -p $D regions save "$WORK/deg.reg" || fail "regions save fk5"
xpaget $D regions -format ds9 -system wcs -sky fk5 -skyformat sexagesimal >"$WORK/sex.reg" || fail "xpaget sexagesimal"
xpaget $D regions -format ds9 -system image >"$WORK/image.reg" || fail "xpaget image"
xpaget $D regions -format ds9 -system wcs -sky galactic >"$WORK/galactic.reg" || fail "xpaget galactic"
xpaget $D regions -format ds9 -system wcs -sky fk4 >"$WORK/fk4.reg" || fail "xpaget fk4"
xpaget $D regions -format ds9 -system wcs -sky fk4 -skyformat sexagesimal >"$WORK/fk4sex.reg" || fail "xpaget fk4 sexagesimal"
xpaget $D regions -format ds9 -system wcs -sky ecliptic >"$WORK/ecliptic.reg" || fail "xpaget ecliptic"
grep -q '^-circle(' "$WORK/deg.reg" && grep -q '^fk5$' "$WORK/deg.reg" && grep -q '^point(13:22:02' "$WORK/sex.reg" \
    || { cat "$WORK/deg.reg" "$WORK/sex.reg"; fail "DS9 wrote other files than expected"; }

# the centres as DS9 wrote them, as a CSV list (the objID from text={N})
centres() {
    sed -n 's/^-\{0,1\}[a-z]*(\([^,]*\),\([^,)]*\)[,)].*/\1,\2/p' "$1" >"$WORK/c"
    sed -n '/^-\{0,1\}[a-z]*(/{s/.*text={\([0-9]*\)}.*/\1/p;t;s/.*//p}' "$1" >"$WORK/i"
    { echo "ra,dec,objID"; paste -d, "$WORK/c" "$WORK/i"; } >"$2"
    [ "$(wc -l <"$2")" -eq 8 ] || { cat "$1" "$2"; fail "centres of $1"; }
}
# run NAME: the region file NAME.reg and its CSV, row by row
run() {
    centres "$WORK/$1.reg" "$WORK/$1.csv"
    "$galpost" infer $common --frames "$frames" --positions "$WORK/$1.reg" -o "$WORK/$1-reg.fits" 2>"$WORK/err" \
        || { cat "$WORK/err"; fail "$1.reg batch"; }
    grep -q "7 galaxies (1 failed) in" "$WORK/err" || { cat "$WORK/err"; fail "$1.reg: summary line"; }
    "$galpost" infer $common --frames "$frames" --positions "$WORK/$1.csv" -o "$WORK/$1-csv.fits" 2>"$WORK/err" \
        || { cat "$WORK/err"; fail "$1.csv batch"; }
    for k in 1 2 3 4 6 7; do
        "$dump" "$WORK/$1-reg.fits" row $k >"$WORK/a" && "$dump" "$WORK/$1-csv.fits" row $k >"$WORK/b" || fail "dump row $k"
        grep -q "^status 0$" "$WORK/a" || fail "$1.reg row $k failed: $(grep '^message' "$WORK/a")"
        cmp -s "$WORK/a" "$WORK/b" || { diff "$WORK/a" "$WORK/b" | head; fail "$1.reg row $k differs from the CSV's"; }
        "$dump" "$WORK/$1-reg.fits" samples $k >"$WORK/a" && "$dump" "$WORK/$1-csv.fits" samples $k >"$WORK/b" \
            || fail "dump samples $k"
        cmp -s "$WORK/a" "$WORK/b" || fail "$1.reg row $k: samples differ from the CSV's"
    done
    pass "$1.reg: six regions' rows equal the CSV list's"
    "$dump" "$WORK/$1-reg.fits" row 2 | grep -q "^objID 1237665440979615837$" || fail "$1.reg: the text's objID is not row 2's id"
    "$dump" "$WORK/$1-reg.fits" row 1 | grep -q "^objID 1237665440979615837$" && fail "$1.reg: row 1 has row 2's id"
    "$dump" "$WORK/$1-reg.fits" row 5 >"$WORK/a" || fail "dump row 5"
    grep -q "^status [1-9]" "$WORK/a" || fail "$1.reg: the excluded region did not fail"
    contains "$(grep '^message' "$WORK/a")" \
        "message $WORK/$1.reg: row 5 (line 8): an excluded region (-circle) marks where not to look, not a galaxy" \
        "$1.reg: the excluded region's row"
}
run deg
run sex

# xpaget piped into --positions - (README's example): the fk5 file's rows
xpaget $D regions -format ds9 -system wcs -sky fk5 -skyformat degrees \
    | "$galpost" infer $common --frames "$frames" --positions - -o "$WORK/pipe.fits" 2>"$WORK/err" \
    || { cat "$WORK/err"; fail "xpaget | galpost infer --positions -"; }
grep -q "7 galaxies (1 failed) in" "$WORK/err" || { cat "$WORK/err"; fail "pipe: summary line"; }
for k in 1 2 3 4 6 7; do
    "$dump" "$WORK/pipe.fits" row $k >"$WORK/a" && "$dump" "$WORK/deg-reg.fits" row $k >"$WORK/b" || fail "dump row $k"
    cmp -s "$WORK/a" "$WORK/b" || { diff "$WORK/a" "$WORK/b" | head; fail "pipe row $k differs from deg.reg's"; }
done
"$dump" "$WORK/pipe.fits" row 5 | grep -q "^message standard input: row 5 (line .*): an excluded region" \
    || fail "pipe: the excluded row's message: $("$dump" "$WORK/pipe.fits" row 5 | grep '^message')"
pass "xpaget regions | galpost infer --positions -: the fk5 file's rows"

# galactic and FK4 (B1950) coordinates, as DS9 writes them: turned into
# FK5, each usable row's centre near the fk5 file's, the excluded region
# failed.  Galactic: within 0.1 arcsec (DS9 rotates with AST, galpost with
# wcslib).  FK4: within 0.5 arcsec, since DS9 converts at the epoch of the
# image's DATE-OBS (2004.2 here) and galpost at B1950, as catalogues give
# B1950 positions: astropy puts DS9's centres 0.27 arcsec from galpost's
# at B1950 and 0.003 arcsec at 2004.2.
for f in galactic fk4 fk4sex; do
    sys=${f%sex}
    tol=0.1; [ $sys = fk4 ] && tol=0.5
    grep -q "^$sys\$" "$WORK/$f.reg" || { cat "$WORK/$f.reg"; fail "DS9 wrote no $sys file"; }
    "$galpost" infer $common --frames "$frames" --positions "$WORK/$f.reg" -o "$WORK/$f.fits" 2>"$WORK/err" \
        || { cat "$WORK/err"; fail "$f.reg batch"; }
    grep -q "7 galaxies (1 failed) in" "$WORK/err" || { cat "$WORK/err"; fail "$f.reg: summary line"; }
    for k in 1 2 3 4 6 7; do
        "$dump" "$WORK/$f.fits" row $k >"$WORK/a" && "$dump" "$WORK/deg-reg.fits" row $k >"$WORK/b" || fail "dump row $k"
        grep -q "^status 0$" "$WORK/a" || fail "$f.reg row $k failed: $(grep '^message' "$WORK/a")"
        awk -v f=$f -v tol=$tol '$1 == "ra" || $1 == "dec" { v[FILENAME, $1] = $2 }
             END { a = ARGV[1]; b = ARGV[2]
                   dra = (v[a, "ra"] - v[b, "ra"]) * cos(v[b, "dec"] * 3.14159265358979 / 180); ddec = v[a, "dec"] - v[b, "dec"]
                   if (v[b, "ra"] == "" || dra * dra + ddec * ddec > (tol / 3600) ^ 2) {
                       printf "(%s, %s) vs fk5 (%s, %s)\n", v[a, "ra"], v[a, "dec"], v[b, "ra"], v[b, "dec"]; exit 1 }
                   printf "%s row: %.3f arcsec from the fk5 centre\n", f, 3600 * sqrt(dra * dra + ddec * ddec) }' \
            "$WORK/a" "$WORK/b" || fail "$f.reg row $k: centre more than $tol arcsec from the fk5 file's"
    done
    "$dump" "$WORK/$f.fits" row 5 | grep -q "^status [1-9]" || fail "$f.reg: the excluded region did not fail"
    pass "$f.reg: six centres within $tol arcsec of the fk5 file's"
done

# pixel coordinates, and ecliptic ones (DS9 writes them for the equinox of
# the frame's DATE-OBS, 2004: 3 arcmin from J2000's): every row fails,
# saying what to do
grep -q '^ecliptic$' "$WORK/ecliptic.reg" || { cat "$WORK/ecliptic.reg"; fail "DS9 wrote no ecliptic file"; }
for f in physical image ecliptic; do
    "$galpost" infer $common --frames "$frames" --positions "$WORK/$f.reg" -o "$WORK/$f.fits" 2>"$WORK/err"
    grep -q "7 galaxies (7 failed) in" "$WORK/err" || { cat "$WORK/err"; fail "$f.reg: not 7 failed rows"; }
    "$dump" "$WORK/$f.fits" row 1 >"$WORK/a" || fail "dump $f row 1"
    case $f in ecliptic) what="ecliptic positions are not converted" ;; *) what="$f coordinates are pixels" ;; esac
    contains "$(grep '^message' "$WORK/a")" "message $WORK/$f.reg: row 1 (line 4): circle: $what" "$f.reg: row 1"
    grep -q "save the regions in fk5 or icrs" "$WORK/a" || fail "$f.reg: no advice: $(grep '^message' "$WORK/a")"
done
echo "PASS: test_infer_positions_ds9"
