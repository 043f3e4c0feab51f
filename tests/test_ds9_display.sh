#!/bin/sh
# test_ds9_display.sh: galpostd leaves DS9's display as the user had it, and
# draws the results of neighbouring galaxies where they can be read, with
# the real programs (Xvfb, DS9, galpostd, XPA) on the mock frames of
# tests/gp_test_frames (two galaxies 68" apart).
#   1. DS9 answers `file` and `fits` for the current frame only, so galpostd
#      makes each frame current in turn.  After a request, done or failed
#      (also when reading fails halfway: GPD_TEST_FAIL_FRAME), DS9 shows the
#      same current frame, the same hidden frames (`frame N` shows a hidden
#      one: it came back into the tile layout for good), the same pan and
#      zoom, and an RGB frame's channel as it was.
#   2. The result lines of the two galaxies, inferred in one request and in
#      two, do not overlap on the screen: the regions are read back and each
#      line measured in DS9's own font (Tk's font measure).
#   3. Lines drawn at zoom 1 are kept clear of after a zoom to 4 (each text
#      keeps its place in the image and its size on the screen: the block
#      is not the one drawn scaled), for a neighbour just above them.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess awk

D=gpdisp
mkdir -p "$WORK/field" "$ART"
"$B/tests/gp_test_frames" "$WORK/field" >"$WORK/galaxies" || fail "gp_test_frames"
set -- $(sed -n 1p "$WORK/galaxies"); RA1=$2 DEC1=$3
set -- $(sed -n 2p "$WORK/galaxies"); RA2=$2 DEC2=$3
"$B/galpost" model random "$WORK/model.gpw" --seed 5 >/dev/null || fail "galpost model random"
F=$WORK/field/frame

start_xvfb
start_ds9 $D -mode region
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5 --plot no

# the display: current frame, active frames, tile, each frame's pan, zoom
# and RGB channel (read by visiting each frame, then going back)
display() {
    cur=$(xpaget $D frame)
    echo "current $cur; active $(xpaget $D frame active); all $(xpaget $D frame all); tile $(xpaget $D tile)"
    for f in $(xpaget $D frame all); do
        xpaset -p $D frame "$f"
        echo "frame $f: pan $(xpaget $D pan image) zoom $(xpaget $D zoom) channel $(xpaget $D rgb channel)"
    done
    for f in $HIDDEN; do xpaset -p $D frame hide "$f"; done
    xpaset -p $D frame "$cur"
}
same_display() {   # same_display WHAT
    display >"$WORK/after"
    if ! cmp -s "$WORK/before" "$WORK/after"; then
        echo "FAIL: $1: DS9's display changed:"; diff "$WORK/before" "$WORK/after"; exit 1
    fi
    pass "$1: display as it was ($(head -1 "$WORK/after"))"
}

# 1. g, r, i, u, z in frames 1-5, tiled; u hidden (still used: measured
# colours need it); frame 2 (r) current, panned and zoomed
xpaset -p $D frame delete all
for b in g r i u z; do
    xpaset -p $D frame new
    xpaset -p $D fits "$F-$b-000001-1-0001.fits" || fail "DS9 cannot load $b"
done
xpaset -p $D tile yes
xpaset -p $D frame 3; xpaset -p $D zoom to 2
xpaset -p $D frame 2; xpaset -p $D pan to 250 200 image; xpaset -p $D zoom to 0.5
xpaset -p $D frame hide 4
HIDDEN=4
[ "$(xpaget $D frame active | tr -s ' ' | sed 's/ $//')" = "1 2 3 5" ] || fail "frame 4 not hidden: $(xpaget $D frame active)"
display >"$WORK/before"
echo "icrs; circle($RA1,$DEC1,8\")" | xpaset $D regions || fail "region"
xpaset -p $D regions selectall
contains "$(xpaset -p galpost infer selected tag ok && wait_job ok)" "ok done" "a request on frame 2"
contains "$(xpaget galpost summary)" "on the u, g, r, i, z frames" "the hidden u frame was used"
same_display "after a request"
contains "$(xpaset -p galpost infer 10 10 tag off && wait_job off)" "off failed" "a request off every image"
same_display "after a failed request"
xpaset -p $D regions select none
contains "$(xpaset -p galpost infer selected tag nosel && wait_job nosel)" "nosel failed" "a request without a selected region"
same_display "after a request refused before reading the frames"
contains "$(xpaset -p galpost clear tag clr && wait_job clr)" "clr done" "clear"
same_display "after clear"

# reading fails halfway (frame 5, after the hidden frame 4 was read)
stop_pid $GPD_PID
GPD_TEST_FAIL_FRAME=5 start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5 --plot no
xpaset -p $D regions selectall
contains "$(xpaset -p galpost infer selected tag half && wait_job half)" "reading frame 5 failed" "reading fails halfway"
same_display "after reading failed halfway"

# an RGB frame (i, r, g in red, green, blue) beside plain r, u and z
# frames, the RGB frame current on its blue channel; reading its green
# channel fails
stop_pid $GPD_PID
GPD_TEST_FAIL_FRAME="2 green" start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5 --plot no
xpaset -p $D frame delete all
HIDDEN=
xpaset -p $D frame new
xpaset -p $D fits "$F-r-000001-1-0001.fits"
xpaset -p $D frame new rgb
for ch in red:i green:r blue:g; do
    xpaset -p $D rgb channel "${ch%:*}"
    xpaset -p $D fits "$F-${ch#*:}-000001-1-0001.fits" || fail "RGB load"
done
for b in u z; do
    xpaset -p $D frame new
    xpaset -p $D fits "$F-$b-000001-1-0001.fits" || fail "DS9 cannot load $b"
done
xpaset -p $D frame 2
xpaset -p $D rgb channel blue
display >"$WORK/before"
contains "$(display | grep 'frame 2')" "channel blue" "the RGB frame on its blue channel"
contains "$(xpaset -p galpost infer $RA1 $DEC1 tag rgb && wait_job rgb)" "reading frame 2 green failed" "reading an RGB channel fails"
same_display "after reading an RGB channel failed"
stop_pid $GPD_PID
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5 --plot no
contains "$(xpaset -p galpost infer $RA1 $DEC1 tag rgb2 && wait_job rgb2)" "rgb2 done" "the RGB frame read"
same_display "after the RGB frame was read"

# 2. the two galaxies' lines on the screen: single frame, zoom 1
xpaset -p $D frame delete all
for b in g r i u z; do
    xpaset -p $D frame new
    xpaset -p $D fits "$F-$b-000001-1-0001.fits" || fail "DS9 cannot load $b"
done
xpaset -p $D frame 2
xpaset -p $D single
xpaset -p $D zoom to 1
xpaset -p $D pan to "$RA1" "$DEC1" wcs icrs
xpaset -p $D scale log
xpaset -p $D scale limits -0.05 3

# measure_texts: the text regions of $WORK/regions, each measured in DS9's
# font: "$WORK/measured" gets "ID X Y WIDTH HEIGHT" a line (X, Y image
# coordinates of its centre; WIDTH, HEIGHT screen pixels)
measure_texts() {
    sed -n 's/^# text(\([^,]*\),\([^)]*\)) .*text={\([^}]*\)}.* tag={galpost-\([0-9]*\)}.*/\4\t\1\t\2\t\3/p' \
        "$WORK/regions" >"$WORK/texts"
    cat >"$WORK/measure.tcl" <<TCL
set in [open {$WORK/texts} r]
fconfigure \$in -encoding utf-8
set out [open {$WORK/measured} w]
set font {helvetica 10 normal roman}
set h [font metrics \$font -linespace]
while {[gets \$in line] >= 0} {
    set f [split \$line "\t"]
    puts \$out "[lindex \$f 0] [lindex \$f 1] [lindex \$f 2] [font measure \$font [lindex \$f 3]] \$h"
}
close \$in
close \$out
TCL
    rm -f "$WORK/measured"
    xpaset -p $D tcl "{source $WORK/measure.tcl}" || fail "tcl font measure"
}

# no_overlap WHAT: every text region read back, measured in DS9's font, as
# boxes in screen pixels; boxes of different results must not meet, nor
# cover the other galaxy's centre
no_overlap() {
    what=$1
    xpaget $D regions -format ds9 -system image >"$WORK/regions" || fail "regions"
    measure_texts
    [ "$(cut -f1 "$WORK/texts" | sort -u | wc -l)" -eq 2 ] || fail "$what: not two results' lines: $(cat "$WORK/regions")"
    z=$(xpaget $D zoom)
    # the galaxies: the circles (the user's, or galpost's markers)
    set -- $(sed -n 's/^circle(\([^,]*\),\([^,]*\),.*/\1 \2/p' "$WORK/regions" | sort -u | head -2 | tr '\n' ' ')
    [ $# -eq 4 ] || fail "$what: not two circles: $(cat "$WORK/regions")"
    awk -v z="$z" -v gx1="$1" -v gy1="$2" -v gx2="$3" -v gy2="$4" '
        { id = $1; x0 = $2 * z - $4 / 2; x1 = $2 * z + $4 / 2; y0 = $3 * z - $5 / 2; y1 = $3 * z + $5 / 2
          if (!(id in X0)) { ids[++n] = id; X0[id] = x0; X1[id] = x1; Y0[id] = y0; Y1[id] = y1 }
          if (x0 < X0[id]) X0[id] = x0; if (x1 > X1[id]) X1[id] = x1
          if (y0 < Y0[id]) Y0[id] = y0; if (y1 > Y1[id]) Y1[id] = y1 }
        END {
          a = ids[1]; b = ids[2]
          printf "lines #%s: x %.0f..%.0f y %.0f..%.0f; #%s: x %.0f..%.0f y %.0f..%.0f (screen px)\n", a, X0[a], X1[a], Y0[a], Y1[a], b, X0[b], X1[b], Y0[b], Y1[b]
          if (X0[a] < X1[b] && X0[b] < X1[a] && Y0[a] < Y1[b] && Y0[b] < Y1[a]) { print "OVERLAP"; exit 1 }
          for (k = 1; k <= 2; k++) { i = ids[k]
            for (g = 1; g <= 2; g++) { gx = (g == 1 ? gx1 : gx2) * z; gy = (g == 1 ? gy1 : gy2) * z
              if (gx > X0[i] && gx < X1[i] && gy > Y0[i] && gy < Y1[i]) { print "COVERS galaxy " g; exit 1 } } }
        }' "$WORK/measured" >"$WORK/overlap" || fail "$what: $(cat "$WORK/overlap")"
    pass "$what: $(cat "$WORK/overlap")"
}
xpaset -p $D tcl "{package require img::window}" || fail "img::window"
echo "icrs; circle($RA1,$DEC1,8\"); circle($RA2,$DEC2,8\")" | xpaset $D regions || fail "regions"
contains "$(xpaset -p galpost infer all tag two && wait_job two)" "two done" "two galaxies 68\" apart in one request"
xpaset -p $D saveimage png "$ART/ds9-neighbours.png" || fail "saveimage"
no_overlap "one request"
contains "$(xpaset -p galpost clear tag c2 && wait_job c2)" "c2 done" "clear"
xpaset -p $D regions delete all
xpaset -p $D mode crosshair
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag x1 && wait_job x1)" "x1 done" "galaxy 1 at the crosshair"
xpaset -p $D crosshair "$RA2" "$DEC2" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag x2 && wait_job x2)" "x2 done" "then galaxy 2"
xpaset -p $D mode region
xpaset -p $D saveimage png "$ART/ds9-neighbours-two-requests.png" || fail "saveimage"
no_overlap "two requests"

# 3. galaxy 1's lines drawn at zoom 1; zoomed to 4, a galaxy (in the
# catalogue, for its colours) 5 image px above their top line's centre
contains "$(xpaset -p galpost clear tag c3 && wait_job c3)" "c3 done" "clear"
xpaset -p $D regions delete all
xpaset -p $D mode crosshair
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag z1 && wait_job z1)" "z1 done" "galaxy 1 at zoom 1"
set -- $(xpaget $D regions -format ds9 -system image |
         sed -n 's/^# text(\([^,]*\),\([^)]*\)) .*/\1 \2/p' | awk 'NR == 1 || $1 < x { x = $1 } NR == 1 || $2 > y { y = $2 } END { print x, y + 5 }')
[ $# -eq 2 ] || fail "galaxy 1's lines not read back"
xpaset -p $D zoom to 4
xpaset -p $D crosshair "$1" "$2" image
set -- $(xpaget $D crosshair wcs icrs degrees)
{ cat "$WORK/field/photo.csv"; echo "3,$1,$2,19.700,18.630,17.960,17.590,17.380,0.10,0.08,0.06,0.04,0.03"; } >"$WORK/above.csv"
xpaset -p galpost set catalog "$WORK/above.csv" || fail "set catalog"
contains "$(xpaset -p galpost infer crosshair tag z2 && wait_job z2)" "z2 done" "a neighbour just above galaxy 1's lines, at zoom 4"
xpaset -p $D mode region
xpaset -p $D saveimage png "$ART/ds9-neighbours-zoomed.png" || fail "saveimage"
no_overlap "lines drawn at zoom 1, a neighbour's at zoom 4"

# 4. a click on a large galaxy (galaxy 1: r = 16.2, scale length 2.5"):
# its lines go beside it, not over it.  No line's box (measured in DS9's
# font, at zoom 1) may hold an r pixel within 15" of the galaxy brighter
# than 5 sky sigmas (0.125 nanomaggies, which its light passes out to ~6";
# the sky's own noise passes it once in 3 million pixels).  Lines drawn
# 6 pixels from the click, as before galpostd measured the galaxy's
# extent, lay over its pixels of 0.16 nanomaggies and more.
contains "$(xpaset -p galpost clear tag c4 && wait_job c4)" "c4 done" "clear"
xpaset -p $D regions delete all
xpaset -p galpost set catalog "$WORK/field/photo.csv" || fail "set catalog"
xpaset -p $D frame 2
[ "$(xpaget $D fits header keyword FILTER | tr -d " '")" = r ] || fail "frame 2 is not the r frame"
xpaset -p $D zoom to 1
xpaset -p $D pan to "$RA1" "$DEC1" wcs icrs
xpaset -p $D mode crosshair
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
set -- $(xpaget $D crosshair image)
gx=$1 gy=$2
contains "$(xpaset -p galpost infer crosshair tag big && wait_job big)" "big done" "a click on the large galaxy 1"
xpaset -p $D mode region
xpaset -p $D saveimage png "$ART/ds9-large-galaxy.png" || fail "saveimage"
xpaget $D regions -format ds9 -system image >"$WORK/regions" || fail "regions"
measure_texts
[ -s "$WORK/measured" ] || fail "no lines drawn for galaxy 1: $(cat "$WORK/regions")"
# the r pixels within 15" (38 px) of the galaxy, "X Y VALUE" a line
R=38
x0=$(awk -v c="$gx" -v r=$R 'BEGIN { printf "%d", c - r }') y0=$(awk -v c="$gy" -v r=$R 'BEGIN { printf "%d", c - r }')
xpaget $D data image "$x0" "$y0" $((2 * R + 1)) $((2 * R + 1)) no >"$WORK/pixels" || fail "data image"
awk -v gx="$gx" -v gy="$gy" -v r=$R -v lim=0.125 '
    FNR == NR { n++; X0[n] = $2 - $4 / 2; X1[n] = $2 + $4 / 2; Y0[n] = $3 - $5 / 2; Y1[n] = $3 + $5 / 2; next }
    { gsub(/[,=]/, " "); x = $1; y = $2; v = $3
      if ((x - gx) ^ 2 + (y - gy) ^ 2 > r * r || v == "") next
      seen++
      for (i = 1; i <= n; i++)
          if (x > X0[i] && x < X1[i] && y > Y0[i] && y < Y1[i]) {
              if (v > lim) { printf "a line covers the galaxy: pixel (%d, %d) = %s nanomaggies under line %d\n", x, y, v, i; bad = 1; exit 1 }
              under++
          }
    }
    END { if (bad) exit 1
          if (seen < 4000) { printf "only %d pixels read around the galaxy\n", seen; exit 1 }
          printf "%d lines; %d of the %d r pixels within 15\" lie under them, all below %s nanomaggies\n", n, under, seen, lim }
' "$WORK/measured" "$WORK/pixels" >"$WORK/cover" || fail "$(cat "$WORK/cover")"
pass "a large galaxy's lines beside it: $(cat "$WORK/cover")"
exit 0
