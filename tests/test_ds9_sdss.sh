#!/bin/sh
# test_ds9_sdss.sh: the plugin on real SDSS frames (../shared/data, skipped
# when absent): DS9 loads the calibrated g, r, i, u, z frames of fields
# 004510-4-0030 and 003918-3-0213, galpostd infers three galaxies in them
# (each cut from the frames of its own field).  Results must be
# finite and within broad physical ranges, and must come from the real
# pixels: the galaxy peaks at the centre of each band's cutout, the
# measured magnitudes are those of a bright galaxy with normal colours, and
# the cutout flux agrees with the aperture photometry.  (With the untrained
# random model of the tests the posteriors themselves are not physics: the
# ranges are wide on purpose.)
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess bunzip2 awk

FRAMES=${GP_SHARED_DATA:-$S/../shared/data}/sdss-frames
FIELDS="004510-4-0030 003918-3-0213"
for f in $FIELDS; do
    [ -r "$FRAMES/$f/frame-r-$f.fits.bz2" ] || { echo "SKIP: $FRAMES/$f not found"; exit 77; }
done
D=gps
for f in $FIELDS; do
    for b in g r i u z; do
        bunzip2 -c "$FRAMES/$f/frame-$b-$f.fits.bz2" >"$WORK/frame-$b-$f.fits" &
    done
    wait
done
"$B/galpost" model random "$WORK/model.gpw" --seed 11 >/dev/null || fail "galpost model random"
start_xvfb
start_ds9 $D -mode region
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 10
first=1
for f in $FIELDS; do
    for b in g r i u z; do
        [ $first = 1 ] || xpaset -p $D frame new
        first=0
        xpaset -p $D fits "$WORK/frame-$b-$f.fits" || fail "DS9 cannot load frame-$b-$f"
    done
done
xpaset -p $D tile yes
xpaset -p $D frame 2

# three galaxies (the second near a frame edge, the third in the other field)
k=0
for pos in "200.510010 36.730886 10" "200.377507 36.903273 8" "229.525514 42.745845 10"; do
    set -- $pos
    k=$((k + 1))
    # a circle in the r frame of the galaxy's field
    case $1 in 200*) xpaset -p $D frame 2 ;; *) xpaset -p $D frame 7 ;; esac
    echo "icrs; circle($1,$2,$3\")" | xpaset $D regions
    xpaset -p $D regions selectall
    xpaset -p galpost infer selected tag g$k || fail "infer"
    st=$(wait_job g$k)
    contains "$st" "g$k done" "galaxy $k ($1 $2) inferred"
    xpaset -p $D regions delete select
    json=$(xpaget galpost summary json) || fail "summary"
    printf '%s\n' "$json" >"$WORK/g$k.json"
    # every median finite and within broad physical ranges
    printf '%s\n' "$json" | awk -v g=$k '
        function need(name, lo, hi) {
            if (!(name in med)) { printf "FAIL: galaxy %d: no %s\n", g, name; bad = 1; return }
            v = med[name]
            if (v == "null" || v + 0 < lo || v + 0 > hi) { printf "FAIL: galaxy %d: %s median %s outside %g..%g\n", g, name, v, lo, hi; bad = 1 }
        }
        /"median": / && /"unit"/ {
            split($0, a, "\""); name = a[2]
            m = $0; sub(/.*"median": /, "", m); sub(/,.*/, "", m); med[name] = m
            if (match($0, /"flux_median": [^,]*/)) { f = substr($0, RSTART + 15, RLENGTH - 15); flux[name] = f }
        }
        END {
            need("lgm_tot_p50", 6, 13); need("sfr_tot_p50", -5, 3); need("z", 0, 1.5)
            need("log_mbh", 4, 11); need("oh_p50", 7, 10)
            n = 0
            for (q in flux) { n++; if (flux[q] == "null" || flux[q] + 0 < -1 || flux[q] + 0 > 1e6) { printf "FAIL: galaxy %d: %s flux %s\n", g, q, flux[q]; bad = 1 } }
            if (n != 4) { printf "FAIL: galaxy %d: %d line fluxes\n", g, n; bad = 1 }
            exit bad }' || fail "galaxy $k: posterior out of range (see above)"
    pass "galaxy $k: posterior medians finite and in range"
    # the real pixels: measured ugriz, peak at the cutout centre, flux agreement
    printf '%s\n' "$json" | awk -v g=$k '
        /"mag": \{/ { s = $0; sub(/.*"mag": \{/, "", s); n = split(s, p, ","); for (i = 1; i <= 5; i++) { v = p[i]; sub(/.*: /, "", v); sub(/\}.*/, "", v); m[i] = v + 0 } }
        /"cutout": \{/ {
            s = $0
            for (b = 1; b <= 3; b++) {
                if (!match(s, /"sum": [^,]*, "peak": [^,]*, "peak_x": [0-9]*, "peak_y": [0-9]*/)) { print "FAIL: no cutout stats"; exit 1 }
                t = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
                split(t, q, /[:,] */); sum[b] = q[2] + 0; px[b] = q[6] + 0; py[b] = q[8] + 0
            }
        }
        END {
            if (!(m[3] > 12 && m[3] < 20)) { printf "FAIL: galaxy %d: r = %s\n", g, m[3]; exit 1 }
            if (!(m[2] - m[3] > -0.2 && m[2] - m[3] < 2.0)) { printf "FAIL: galaxy %d: g-r = %g\n", g, m[2] - m[3]; exit 1 }
            if (!(m[3] - m[4] > -0.5 && m[3] - m[4] < 1.5)) { printf "FAIL: galaxy %d: r-i = %g\n", g, m[3] - m[4]; exit 1 }
            for (b = 1; b <= 3; b++)
                if (px[b] < 76 || px[b] > 83 || py[b] < 76 || py[b] > 83) { printf "FAIL: galaxy %d: band %d peaks at (%d, %d)\n", g, b, px[b], py[b]; exit 1 }
            # the whole r cutout holds at least the aperture flux, and not 3x more
            ap = 10 ^ ((22.5 - m[3]) / 2.5)
            if (!(sum[2] > 0.8 * ap && sum[2] < 3 * ap)) { printf "FAIL: galaxy %d: r cutout sum %g vs aperture %g\n", g, sum[2], ap; exit 1 }
            printf "ok: galaxy %d: r = %.2f, g-r = %.2f, r-i = %.2f, peaks at the centre, cutout %.1f vs aperture %.1f nmgy\n", g, m[3], m[2] - m[3], m[3] - m[4], sum[2], ap
        }' || fail "galaxy $k: the pixels read do not look like the galaxy"
done
contains "$(xpaget galpost summary 2)" "flags  edge" "the galaxy near the frame edge is flagged"
contains "$(xpaget galpost summary 3)" "frame-r-003918-3-0213.fits" "the third galaxy is cut from its own field"
xpaset -p $D tcl "{package require img::window}" && xpaset -p $D saveimage png "$ART/ds9-sdss.png" 2>/dev/null
contains "$(xpaget galpost status)" "requests: 3 done, 0 failed" "three requests, no failure"

# The same position through galpost infer --frames and through galpostd: the
# same frames, magnitudes, model and seed give the same posterior, to the
# digits both print (they once keyed the sampler differently, 0.001" and
# 0.5", and agreed only to sampling noise).
f=003918-3-0213
xpaset -p galpost infer 229.525730 42.744718 tag cli || fail "infer at a position"
contains "$(wait_job cli)" "cli done" "galpostd infers at 229.525730 42.744718"
xpaget galpost summary json >"$WORK/d.json" || fail "summary json"
"$B/galpost" infer --model "$WORK/model.gpw" --backend cpu --ra 229.525730 --dec 42.744718 --json \
    --frames "$WORK/frame-g-$f.fits,$WORK/frame-r-$f.fits,$WORK/frame-i-$f.fits,$WORK/frame-u-$f.fits,$WORK/frame-z-$f.fits" \
    >"$WORK/c.json" 2>"$WORK/c.err" || fail "galpost infer --frames: $(cat "$WORK/c.err")"
median() { grep -o "\"$2\": {[^}]*" "$1" | sed -n 's/.*"median": \([^,}]*\).*/\1/p' | head -1; }
for q in lgm_tot_p50 sfr_tot_p50 z log_mbh oh_p50 h_alpha_flux h_beta_flux nii_6584_flux oiii_5007_flux; do
    c=$(median "$WORK/c.json" $q) d=$(median "$WORK/d.json" $q)
    [ -n "$c" ] && [ "$c" = "$d" ] || fail "$q median: galpost infer --frames $c, galpostd $d"
done
pass "galpost infer --frames and galpostd give the same posterior at the same position"
echo "PASS: $TEST"
