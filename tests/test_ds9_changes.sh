#!/bin/sh
# test_ds9_changes.sh: galpostd when the user changes DS9 under it, with the
# real programs (Xvfb, DS9, galpostd, XPA) on the mock frames of
# tests/gp_test_frames.
#   1. A frame deleted while a request reads the frames (DS9 serves its
#      menus between galpostd's XPA calls; here a wrapper of DS9's own `file`
#      command deletes it, as Frame > Delete Frame would, when galpostd reads
#      a chosen frame): `frame N` would make it again, empty, so it is not
#      made current; the request fails naming it, and the display is as it
#      was less that frame.  The user's own frame deleted: not made again,
#      DS9 left on the frame it shows, the request fails naming it (logged).
#      A hidden frame deleted after it was read is not hidden again.
#      galpostd keeps serving.
#   2. More than 64 frames (only the first 64 were walked, silently): the
#      images in frames 67-71 are read and the display is as it was.
#   3. A result's lines deleted by hand (the Region > Groups dialog) are no
#      longer kept clear of: a neighbour's lines then go where they go when
#      they were never drawn.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess awk

D=gpchg
mkdir -p "$WORK/field"
"$B/tests/gp_test_frames" "$WORK/field" >"$WORK/galaxies" || fail "gp_test_frames"
set -- $(sed -n 1p "$WORK/galaxies"); RA1=$2 DEC1=$3
"$B/galpost" model random "$WORK/model.gpw" --seed 5 >/dev/null || fail "galpost model random"
F=$WORK/field/frame

start_xvfb
start_ds9 $D -mode region
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 5 --plot no

words() { printf '%s\n' "$*" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
frames() { echo "current $(xpaget $D frame); all $(words $(xpaget $D frame all)); active $(words $(xpaget $D frame active))"; }
same() {   # same WHAT EXPECTED
    got=$(frames)
    [ "$got" = "$2" ] || fail "$1: DS9's frames are '$got', not '$2'"
    pass "$1: $got"
}

# g, r, i, u, z in frames 1-5, tiled, u (4) hidden, r (2) current
load5() {
    xpaset -p $D frame delete all
    for b in g r i u z; do
        xpaset -p $D frame new
        xpaset -p $D fits "$F-$b-000001-1-0001.fits" || fail "DS9 cannot load $b"
    done
    xpaset -p $D tile yes
    xpaset -p $D frame hide 4
    xpaset -p $D frame 2
    [ "$(frames)" = "current 2; all 1 2 3 4 5; active 1 2 3 5" ] || fail "set-up: $(frames)"
}

# arm_delete AT DEL: when galpostd next reads frame AT (asks DS9 for its
# `file`), frame DEL is deleted first, once
arm_delete() {
    cat >"$WORK/arm.tcl" <<EOF
global gpt
set gpt(at) Frame$1
set gpt(del) Frame$2
if {[info commands GptSendFileCmd] eq {}} {
    rename ProcessSendFileCmd GptSendFileCmd
    proc ProcessSendFileCmd {args} {
        global gpt current
        if {\$gpt(at) ne {} && \$current(frame) eq \$gpt(at)} {
            set gpt(at) {}
            DeleteSingleFrame \$gpt(del)
        }
        tailcall GptSendFileCmd {*}\$args
    }
}
EOF
    xpaset -p $D tcl "{source $WORK/arm.tcl}" || fail "DS9 tcl"
}

# 1. a frame deleted before it is read: frame 5, while frame 3 is read
load5
arm_delete 3 5
out=$(xpaset -p galpost infer $RA1 $DEC1 tag del5 && wait_job del5)
contains "$out" "del5 failed" "a request whose frame 5 is deleted before it is read"
contains "$out" "frame 5 of DS9 '$D' was deleted during the request" "the request names the deleted frame"
same "frame 5 deleted" "current 2; all 1 2 3 4; active 1 2 3"

# the user's own frame (2), deleted while frame 4 (hidden) is read
load5
arm_delete 4 2
out=$(xpaset -p galpost infer $RA1 $DEC1 tag del2 && wait_job del2)
contains "$out" "del2 failed" "a request whose user's frame is deleted"
contains "$out" "frame 2 of DS9 '$D', current when the request began, was deleted during it" "the request names the user's frame"
same "the user's frame deleted: left on the last frame read, the hidden frame hidden again" "current 5; all 1 3 4 5; active 1 3 5"
contains "$(cat "$WORK/galpostd.log")" "frame 2, current when the request began, was deleted during it" "the log says so"

# the hidden frame (4), deleted after it was read (while frame 5 is)
load5
arm_delete 5 4
contains "$(xpaset -p galpost infer $RA1 $DEC1 tag del4 && wait_job del4)" "del4 done" "a hidden frame deleted after it was read"
same "the hidden frame deleted" "current 2; all 1 2 3 5; active 1 2 3 5"

# galpostd keeps serving
load5
contains "$(xpaset -p galpost infer $RA1 $DEC1 tag again && wait_job again)" "again done" "galpostd serves the next request"
same "after it" "current 2; all 1 2 3 4 5; active 1 2 3 5"

# 2. 66 empty frames, then g, r, i, u, z in 67-71; r (68) current
xpaset -p $D frame delete all
xpaset -p $D single
n=0
while [ $n -lt 66 ]; do xpaset -p $D frame new; n=$((n + 1)); done
for b in g r i u z; do
    xpaset -p $D frame new
    xpaset -p $D fits "$F-$b-000001-1-0001.fits" || fail "DS9 cannot load $b"
done
xpaset -p $D frame 68
before=$(frames)
case $before in "current 68; all 1 2 3 "*" 70 71; active "*) ;; *) fail "set-up of 71 frames: $before" ;; esac
out=$(xpaset -p galpost infer $RA1 $DEC1 tag many && wait_job many)
contains "$out" "many done" "a request among 71 frames"
id=${out##*#}
sum=$(xpaget galpost summary "$id")
contains "$sum" "galpost #$id " "its summary"
contains "$sum" "image g frame 67 (" "the g image read from frame 67"
contains "$sum" "on the u, g, r, i, z frames" "the u and z images (frames 70, 71) measured"
same "71 frames" "$before"

# 3. galaxy 1's lines at zoom 1; a catalogue galaxy 5 image pixels above
# the left end of their top line: its lines, centred on it on the right,
# would cover galaxy 1's
load5
xpaset -p $D single
xpaset -p $D zoom to 1
xpaset -p $D pan to "$RA1" "$DEC1" wcs icrs
xpaset -p $D mode crosshair
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag g1 && wait_job g1)" "g1 done" "galaxy 1"
set -- $(xpaget $D regions -format ds9 -system image |
         sed -n 's/^# text(\([^,]*\),\([^)]*\)) .*/\1 \2/p' | awk 'NR == 1 || $1 < x { x = $1 } NR == 1 || $2 > y { y = $2 } END { print x, y + 5 }')
[ $# -eq 2 ] || fail "galaxy 1's lines not read back"
xpaset -p $D crosshair "$1" "$2" image
set -- $(xpaget $D crosshair wcs icrs degrees)
NRA=$1 NDEC=$2
{ cat "$WORK/field/photo.csv"; echo "3,$NRA,$NDEC,19.700,18.630,17.960,17.590,17.380,0.10,0.08,0.06,0.04,0.03"; } >"$WORK/above.csv"
xpaset -p galpost set catalog "$WORK/above.csv" || fail "set catalog"

# text_places: where the newest result's lines are (image pixels)
text_places() {
    xpaget $D regions -format ds9 -system image >"$WORK/regions" || fail "regions"
    id=$(sed -n 's/.*tag={galpost-\([0-9]*\)}.*/\1/p' "$WORK/regions" | sort -n | tail -1)
    sed -n "s/^# text(\\([^)]*\\)) .*tag={galpost-$id}.*/\\1/p" "$WORK/regions"
}
contains "$(xpaset -p galpost clear tag c1 && wait_job c1)" "c1 done" "clear"
xpaset -p $D regions delete all
xpaset -p $D crosshair "$NRA" "$NDEC" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag alone && wait_job alone)" "alone done" "the neighbour alone"
text_places >"$WORK/alone"
[ -s "$WORK/alone" ] || fail "the neighbour's lines not read back: $(cat "$WORK/regions")"

contains "$(xpaset -p galpost clear tag c2 && wait_job c2)" "c2 done" "clear"
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag g1b && wait_job g1b)" "g1b done" "galaxy 1 again"
g1=$(xpaget $D regions -format ds9 -system image | sed -n 's/.*tag={galpost-\([0-9]*\)}.*/\1/p' | sort -u)
[ -n "$g1" ] || fail "galaxy 1's result not in DS9"
xpaset -p $D regions group "galpost-$g1" delete
case $(xpaget $D regions group) in *galpost-$g1*) fail "galaxy 1's lines not deleted" ;; esac
xpaset -p $D crosshair "$NRA" "$NDEC" wcs icrs
contains "$(xpaset -p galpost infer crosshair tag after && wait_job after)" "after done" "the neighbour after galaxy 1's lines were deleted"
text_places >"$WORK/after"
if ! cmp -s "$WORK/alone" "$WORK/after"; then
    echo "FAIL: the neighbour's lines kept clear of galaxy 1's deleted lines:"; diff "$WORK/alone" "$WORK/after"; exit 1
fi
pass "the neighbour's lines where they are when galaxy 1's were never drawn ($(head -1 "$WORK/after") ...)"
exit 0
