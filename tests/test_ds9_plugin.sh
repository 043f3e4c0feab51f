#!/bin/sh
# test_ds9_plugin.sh: the plugin end to end with the real programs: Xvfb,
# DS9 8.x, galpostd and the analysis file, under XPA_METHOD=local with a
# private XPA_TMPDIR.  Mock g, r, i, u, z frames (tests/gp_test_frames);
# a circle on a galaxy; the analysis task run through XPA; the overlay
# regions and the BPT plot read back from DS9 and checked against
# galpostd's own results; the same through xpaset/xpaget; the key binding
# driven with xdotool; errors shown in DS9's text window; bad input (a
# region off every image, no g/r/i frames, frames without WCS, NaN stamps,
# huge buffers, DS9 gone mid-request) refused clearly while galpostd keeps
# serving.  Screenshots go to tests/artefacts/.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess awk

D=gpt
mkdir -p "$WORK/field" "$WORK/nowcs" "$WORK/nan" "$ART"
"$B/tests/gp_test_frames" "$WORK/field" >"$WORK/galaxies" || fail "gp_test_frames"
"$B/tests/gp_test_frames" "$WORK/nowcs" --nowcs >/dev/null || fail "gp_test_frames --nowcs"
"$B/tests/gp_test_frames" "$WORK/nan" --nan >/dev/null || fail "gp_test_frames --nan"
set -- $(sed -n 1p "$WORK/galaxies"); RA1=$2 DEC1=$3
set -- $(sed -n 2p "$WORK/galaxies"); RA2=$2 DEC2=$3
"$B/galpost" model random "$WORK/model.gpw" --seed 3 >/dev/null || fail "galpost model random"

start_xvfb
start_ds9 $D -mode region
start_galpostd --model "$WORK/model.gpw" --ds9 $D --backend cpu --timeout 3 --log_level debug

load_frames() {   # load_frames DIR BANDS...
    dir=$1; shift
    xpaset -p $D frame delete all
    for b in "$@"; do
        xpaset -p $D frame new
        xpaset -p $D fits "$dir/frame-$b-000001-1-0001.fits" || fail "DS9 cannot load the $b frame"
    done
    xpaset -p $D tile yes
}
circle() {   # circle RA DEC RADIUS_ARCSEC: a selected circle in the current frame
    echo "icrs; circle($1,$2,$3\")" | xpaset $D regions || fail "region"
    xpaset -p $D regions selectall
}

load_frames "$WORK/field" g r i u z
xpaset -p $D frame 2
xpaset -p $D analysis load "$S/analysis/galpost.ans" || fail "DS9 refused galpost.ans"
tasks=$(xpaget $D analysis task)
contains "$tasks" "Infer selected" "menu: infer selected"
contains "$tasks" "Infer at crosshair" "menu: infer at crosshair"
contains "$tasks" "BPT diagram" "menu: BPT diagram"
contains "$tasks" "Clear overlays" "menu: clear overlays"
contains "$tasks" "Status" "menu: status"
contains "$tasks" "Help" "menu: help"

# 1. the analysis task on a selected circle
circle "$RA1" "$DEC1" 8
st=$(run_task $D "Infer selected")
contains "$st" "done #1" "analysis task: request done"
[ "$(xpaget $D frame)" = 2 ] || fail "the current frame was not restored"
pass "current frame restored"
regs=$(xpaget $D regions -format ds9 -system wcs -sky icrs)
for want in "galpost #1" "log M*/Msun = " "log SFR = " "z = " "log M_BH = " "12+log(O/H) = " "p_detect" \
            "e-17 erg/s/cm2" "BPT: " "tag={galpost}"; do
    contains "$regs" "$want" "overlay shows '$want'"
done
# each line: a value with its interval, or a 68% upper limit where F <= 0 is 16% likely or more
for want in "Hα" "Hβ" "\[NII\]6584" "\[OIII\]5007"; do
    printf '%s\n' "$regs" | grep -Eq "text=\{$want (= [0-9.]+ |< [0-9.]+ e-17 erg/s/cm2  \(P\(F ≤ 0\) [0-9.]+\)|not detected  \(P\(F ≤ 0\) [0-9.]+\))" ||
        fail "overlay lacks $want's value or upper limit: $regs"
    pass "overlay shows $want"
done
n=$(printf '%s\n' "$regs" | grep -c 'text={.*tag={galpost}')
[ "$n" -ge 11 ] || fail "only $n galpost text regions"
pass "$n text regions tagged galpost"
sum=$(xpaget galpost summary 1)
contains "$sum" "measured in a 8.0\" aperture" "colours measured on the frames (region radius)"
contains "$(xpaget galpost summary 1 json)" "\"aperture_arcsec\": 8," "JSON: the aperture used"
contains "$(xpaget galpost summary 1 json)" "\"log_n2ha\": {\"unit\": \"dex\", \"median\": " \
    "JSON: derived diagnostics by galpost infer's and the FITS tables' names and units"
contains "$sum" "flags  resampled,measured-colours" "flags: resampled, measured colours"
# the overlay's numbers are the result's: log M* median to 2 decimals
med=$(xpaget galpost summary 1 json | awk -F'"median": ' '/"lgm_tot_p50": \{/ { split($2, a, ","); printf "%.2f", a[1] }')
[ -n "$med" ] || fail "no lgm_tot_p50 in the JSON summary"
contains "$regs" "log M*/Msun = $med" "overlay log M* equals the summary median ($med)"
# the galaxy is at the cutout centre in every band (cut through each band's WCS)
json=$(xpaget galpost summary 1 json)
for b in g r i; do
    px=$(printf '%s\n' "$json" | sed -n "s/.*\"$b\": {\"sum\": [^,]*, \"peak\": [^,]*, \"peak_x\": \([0-9]*\), \"peak_y\": \([0-9]*\)}.*/\1 \2/p")
    set -- $px
    [ $# -eq 2 ] || fail "no $b cutout peak in the summary"
    [ $1 -ge 78 ] && [ $1 -le 81 ] && [ $2 -ge 78 ] && [ $2 -le 81 ] || fail "$b peak at ($1, $2), not at the centre"
done
pass "the galaxy peaks at the cutout centre in g, r and i"

# the BPT plot: curves, axes, and the posterior samples of result #1
plots=$(xpaget $D plot)
contains "$plots" "galpost_bpt" "BPT plot window"
xpaset -p $D plot current galpost_bpt
contains "$(xpaget $D plot title)" "galpost #1" "plot title"
names=""
for k in 1 2 3; do
    xpaset -p $D plot current dataset $k
    names="$names $(xpaget $D plot name)"
done
contains "$names" "Kauffmann+03 Kewley+01 Schawinski+07" "demarcation curves"
[ "$(xpaget $D plot axis x min)" = -2 ] && [ "$(xpaget $D plot axis x max)" = 1 ] || fail "x range"
[ "$(xpaget $D plot axis y min)" = -1.5 ] && [ "$(xpaget $D plot axis y max)" = 1.5 ] || fail "y range"
pass "axis ranges set"
xpaset -p $D plot current dataset 4
contains "$(xpaget $D plot name)" "#1 posterior" "posterior dataset"
xpaset -p $D plot save "$WORK/plotted.dat" || fail "plot save"
xpaget galpost samples 1 | awk '!/^#/ {
    ha = 10^$6 - 1; hb = 10^$7 - 1; n2 = 10^$8 - 1; o3 = 10^$9 - 1
    if (ha > 0 && hb > 0 && n2 > 0 && o3 > 0) printf "%.5f %.5f\n", log(n2/ha)/log(10), log(o3/hb)/log(10) }' >"$WORK/expected.dat"
np=$(wc -l <"$WORK/plotted.dat"); ne=$(wc -l <"$WORK/expected.dat")
[ "$np" -eq "$ne" ] && [ "$np" -gt 500 ] || fail "plot has $np points, samples give $ne"
paste "$WORK/plotted.dat" "$WORK/expected.dat" | awk '{ d = $1 - $3; e = $2 - $4; if (d*d + e*e > 1e-7) bad++ }
    END { exit bad > 0 }' || fail "plotted points differ from the samples"
pass "BPT plot holds the $np posterior samples of #1"

# inferring the same galaxy again replaces its overlay
contains "$(run_task $D "Infer selected")" "done #2" "same galaxy again"
regs=$(xpaget $D regions -format ds9 -system wcs -sky icrs)
contains "$regs" "galpost #2  (" "new overlay drawn"
case $regs in *"galpost #1  ("*) fail "the old overlay of the galaxy is still there" ;; esac
[ "$(printf '%s\n' "$regs" | grep -c 'text={.*tag={galpost}')" -eq "$n" ] || fail "overlay line count changed"
pass "the old overlay was replaced"

# 2. the same through xpaset/xpaget
xpaset -p galpost infer "$RA2" "$DEC2" ds9 $D tag x2 || fail "xpaset infer"
contains "$(wait_job x2)" "x2 done #3" "xpaset infer RA DEC"
s2=$(xpaget galpost summary 3)
contains "$s2" "galpost #3  RA $(printf '%.6f' "$RA2")" "summary 3 names the position"
contains "$s2" "BPT: " "summary 3 has the BPT class"
[ "$(xpaget galpost samples 3 | grep -vc '^#')" -eq 1000 ] || fail "samples 3: not 1000 rows"
pass "samples text: 1000 rows"
xpaget galpost samples 3 fits >"$WORK/s2.fits" || fail "samples fits"
[ "$(head -c 6 "$WORK/s2.fits")" = SIMPLE ] && [ $(( $(wc -c <"$WORK/s2.fits") % 2880 )) -eq 0 ] || fail "samples fits is not FITS"
# the table names the galaxy's position (ra, dec in degrees), as galpost infer -o does
"$B/tests/gp_test_table_csv" "$WORK/s2.fits" | awk -F, -v ra="$RA2" -v dec="$DEC2" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    NR == 2 { ok = c["ra"] && c["dec"] && ($(c["ra"]) - ra) ^ 2 < 1e-16 && ($(c["dec"]) - dec) ^ 2 < 1e-16 }
    END { exit !(ok && NR == 2) }' || fail "samples fits: ra, dec are not #3's position $RA2 $DEC2"
pass "samples as a FITS table"
contains "$(xpaget galpost bpt 3)" "p Seyfert" "bpt 3"
contains "$(xpaget galpost status)" "median_ms: gather" "status has timings"

# 3. colours from the catalogue
xpaset -p galpost set catalog "$WORK/field/photo.csv" || fail "set catalog"
contains "$(wait_job reload)" "reload done" "catalogue loaded"
xpaset -p galpost infer "$RA1" "$DEC1" tag cat || fail "infer with catalogue"
contains "$(wait_job cat)" "done" "infer with catalogue"
s3=$(xpaget galpost summary)
contains "$s3" "colours: catalogue $WORK/field/photo.csv: row 1 (line 2), " "colours from the catalogue, its row and line"
contains "$s3" "ugriz  18.300 16.950 16.200 15.800 15.550" "extinction-corrected catalogue magnitudes"
# set catalog answers once the file is read; requests queued before the next
# set use this one: a catalogue whose galaxy-1 row has a 'null' u (it cannot
# be used: the magnitudes are measured, and the colours say why not the
# catalogue's), then the good one again, each followed by a request at once
awk -F, -v OFS=, 'NR == 2 { $4 = "null" } 1' "$WORK/field/photo.csv" >"$WORK/nullu.csv"
xpaset -p galpost set catalog "$WORK/nullu.csv" || fail "set catalog nullu.csv"
xpaset -p galpost infer "$RA1" "$DEC1" tag catbad || fail "infer after set catalog"
xpaset -p galpost set catalog "$WORK/field/photo.csv" || fail "set catalog photo.csv again"
xpaset -p galpost infer "$RA1" "$DEC1" tag catok || fail "infer after the second set catalog"
contains "$(wait_job catok)" "done" "infer after the second set catalog"
contains "$(wait_job catbad)" "done" "infer on the row that cannot be used"
set -- $(wait_job catbad); contains "$(xpaget galpost summary "${3#\#}")" \
    "on the u, g, r, i, z frames; not extinction-corrected; catalogue row 1 (line 2), 0.00\" away, cannot be used" \
    "a catalogue row that cannot be used: measured, and said (the request queued before the next set catalog)"
set -- $(wait_job catok); contains "$(xpaget galpost summary "${3#\#}")" "colours: catalogue $WORK/field/photo.csv: row 1 (line 2), " \
    "the request after the next set catalog uses it"

# 4. crosshair and the key binding
xpaset -p $D crosshair "$RA2" "$DEC2" wcs icrs
contains "$(run_task $D "Infer at crosshair")" "done" "infer at crosshair"
contains "$(xpaget galpost summary)" "RA $(printf '%.6f' "$RA2")" "crosshair position used"
xpaset -p $D mode region
# out of crosshair mode DS9 shows no crosshair: refused, not inferred at an invisible one
contains "$(run_task $D "Infer at crosshair")" "is in region mode, so it shows no crosshair" "crosshair outside crosshair mode"
ds9_close_text_windows $D
if command -v xdotool >/dev/null 2>&1; then
    xpaset -p $D single
    xpaset -p $D frame 2
    xpaset -p $D pan to "$RA1" "$DEC1" wcs icrs
    # the centre of the current frame's canvas item, in screen pixels
    cat >"$WORK/canvas.tcl" <<EOF
global ds9 current
update idletasks
set b [\$ds9(canvas) bbox \$current(frame)]
set f [open {$WORK/canvas} w]
puts \$f "[expr {[winfo rootx \$ds9(canvas)] + ([lindex \$b 0] + [lindex \$b 2]) / 2}] [expr {[winfo rooty \$ds9(canvas)] + ([lindex \$b 1] + [lindex \$b 3]) / 2}]"
close \$f
EOF
    xpaset -p $D tcl "{source $WORK/canvas.tcl}" || fail "tcl canvas"
    set -- $(cat "$WORK/canvas")
    before=$(xpaget galpost status | sed -n 's/^last_result: #//p')
    xdotool mousemove "$1" "$2" && sleep 0.3 && xdotool key p
    n=0
    while [ "$(xpaget galpost status | sed -n 's/^last_result: #//p')" = "$before" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    [ $n -lt 100 ] || fail "the p key started no inference"
    wait_job >/dev/null
    pos=$(xpaget galpost summary json | awk -F': ' '/"ra"/ { gsub(",", "", $2); ra = $2 } /"dec"/ { gsub(",", "", $2); dec = $2 }
        END { printf "%s %s", ra, dec }')
    set -- $pos
    awk -v a="$1" -v b="$2" -v c="$RA1" -v d="$DEC1" 'BEGIN { dx = (a - c) * cos(d * 3.14159265 / 180) * 3600; dy = (b - d) * 3600;
        exit !(dx * dx + dy * dy < 4) }' || fail "key binding inferred at $pos, not at the galaxy"
    pass "key p infers the galaxy under the pointer"
    xpaset -p $D tile yes
else
    echo "SKIP: xdotool not installed: key binding not driven"
fi

# 5. screenshots (test artefacts)
xpaset -p $D tcl "{package require img::window}" || fail "img::window"
xpaset -p $D frame 2
xpaset -p $D single
xpaset -p $D zoom to 1
xpaset -p $D pan to "$RA1" "$DEC1" wcs icrs
xpaset -p $D scale log
xpaset -p $D scale limits -0.05 3
xpaset -p galpost infer selected tag shot >/dev/null 2>&1 || true
xpaset -p $D regions selectall
xpaset -p galpost infer selected tag shot2 && wait_job shot2 >/dev/null
xpaset -p $D saveimage png "$ART/ds9-overlay.png" || fail "saveimage"
xpaset -p $D plot current galpost_bpt
xpaset -p $D plot export png "$ART/ds9-bpt.png" || fail "plot export"
[ -s "$ART/ds9-overlay.png" ] && [ -s "$ART/ds9-bpt.png" ] || fail "screenshots are empty"
if command -v import >/dev/null 2>&1; then
    # no window manager: every window sits at +0+0; put the plot beside DS9
    if command -v xdotool >/dev/null 2>&1; then
        w=$(xdotool search --name '^galpost_bpt$' 2>/dev/null | head -1)
        [ -z "$w" ] || xdotool windowmove "$w" 1120 0 2>/dev/null
        sleep 0.3
    fi
    import -window root "$ART/ds9-screen.png" 2>/dev/null
fi
pass "screenshots in $ART"
xpaset -p $D tile yes

# 6. clear, BPT diagram and status from the menu
count_galpost_regions() {
    n=0
    for f in $(xpaget $D frame all); do
        xpaset -p $D frame "$f"
        n=$((n + $(xpaget $D regions -format ds9 | grep -c 'tag={galpost}')))
    done
    xpaset -p $D frame 2
    echo $n
}
[ "$(count_galpost_regions)" -gt 0 ] || fail "no galpost regions before clear"
contains "$(run_task $D "Clear overlays")" "done" "clear overlays task"
[ "$(count_galpost_regions)" -eq 0 ] || fail "$(count_galpost_regions) galpost regions left after clear"
pass "clear removed every galpost region"
xpaset -p $D frame 2
xpaset -p $D plot current galpost_bpt
xpaset -p $D plot close
[ "$(xpaget $D plot)" = "" ] || fail "plot still open: $(xpaget $D plot)"
contains "$(run_task $D "BPT diagram")" "done" "BPT diagram task"
contains "$(xpaget $D plot)" "galpost_bpt" "the BPT diagram task redrew the plot"
xpaset -p $D analysis task "{Status}"
status_shown() { case "$(ds9_text_windows $D)" in *"model: $WORK/model.gpw"*) return 0 ;; esac; return 1; }
poll 10 status_shown || fail "no status in a DS9 text window: $(ds9_text_windows $D)"
pass "status in a DS9 text window"
ds9_close_text_windows $D

# a posterior dataset deleted from the BPT plot by hand: the next request rebuilds the
# plot instead of failing (it and every request after it, as it once did)
xpaset -p $D regions delete all
circle "$RA1" "$DEC1" 8
contains "$(run_task $D "Infer selected")" "done #" "infer before the plot is changed by hand"
xpaset -p $D plot current galpost_bpt
ds=$(xpaget $D plot current dataset)
contains "$(xpaget $D plot name)" "posterior" "the current dataset ($ds) is the posterior"
xpaset -p $D plot delete dataset
xpaset -p $D frame 2
contains "$(run_task $D "Infer selected")" "done #" "request after a BPT dataset was deleted by hand"
contains "$(run_task $D "Infer selected")" "done #" "and the request after it"
xpaset -p $D plot current galpost_bpt
xpaset -p $D plot current dataset 4
contains "$(xpaget $D plot name)" "posterior" "the rebuilt plot has the posterior again"
xpaset -p $D frame 2
xpaset -p $D regions delete all

# SIGHUP without a configuration file (this daemon has none): the model is reloaded
nre=$(grep -c "SIGHUP: configuration re-read" "$WORK/galpostd.log")
kill -HUP "$GPD_PID"
hup_done() { [ "$(grep -c "SIGHUP: configuration re-read" "$WORK/galpostd.log")" -gt "$nre" ]; }
poll 10 hup_done || fail "SIGHUP without a configuration file: $(grep SIGHUP "$WORK/galpostd.log" | tail -2)"
contains "$(wait_job reload)" "reload done" "SIGHUP without a configuration file reloads the model"

# regions beyond max_galaxies are reported, not dropped unseen
xpaset -p galpost set max_galaxies 2 || fail "set max_galaxies"
circle "$RA1" "$DEC1" 8
circle "$RA2" "$DEC2" 8
circle "$RA1" "$(awk -v d="$DEC1" 'BEGIN { printf "%.6f", d + 0.002 }')" 8
xpaset -p galpost infer all ds9 $D tag mx || fail "xpaset infer all"
contains "$(wait_job mx)" "1 region beyond max_galaxies (2) not inferred" "regions beyond max_galaxies reported"
skipped_shown() { case "$(ds9_text_windows $D)" in *"galpost: "*"not inferred"*) return 0 ;; esac; return 1; }
poll 10 skipped_shown || fail "the skipped region is not said in a DS9 text window: $(ds9_text_windows $D)"
pass "a partly done request is explained in a DS9 text window"
ds9_close_text_windows $D
xpaset -p galpost set max_galaxies 64 || fail "set max_galaxies back"
xpaset -p $D frame 2
xpaset -p $D regions delete all

# 7. bad input: a clear error in DS9's text window, galpostd keeps serving
alive() { contains "$(xpaget galpost status)" "queue: 0 queued" "galpostd still serves ($1)"; }
xpaset -p $D regions delete all
contains "$(run_task $D "Infer selected")" "failed: no region is selected in frame 2" "no region selected"
error_shown() { case "$(ds9_text_windows $D)" in *"galpost: no region is selected"*) return 0 ;; esac; return 1; }
poll 10 error_shown || fail "no error in a DS9 text window: $(ds9_text_windows $D)"
pass "error shown in a DS9 text window"
ds9_close_text_windows $D
alive "no region"
circle "$RA1" "$(awk -v d="$DEC1" 'BEGIN { printf "%.6f", d + 0.06 }')" 8
contains "$(run_task $D "Infer selected")" "off every g image" "region off every image"
alive "off image"
xpaset -p $D regions delete all

big=$(head -c 30000000 /dev/zero | xpaset galpost infer 2>&1) && fail "30 MB buffer accepted"
contains "$big" "bytes of data refused" "huge buffer refused"
out=$(xpaset -p galpost infer 12:00:00 +95:00:00 2>&1) && fail "Dec 95 accepted"
contains "$out" "outside -90..90" "malformed position refused"
out=$(xpaget galpost frobnicate 2>&1) && fail "unknown sub-command accepted"
contains "$out" "unknown command 'frobnicate'" "unknown sub-command refused"
out=$(xpaset -p galpost clera 2>&1) && fail "mistyped sub-command accepted"
contains "$out" "unknown command 'clera', did you mean 'clear'?" "mistyped sub-command refused"
alive "malformed requests"

load_frames "$WORK/field" u z
xpaset -p galpost infer "$RA1" "$DEC1" tag nogri
contains "$(wait_job nogri)" "no g image among the 2 frames" "no g, r, i frames"
alive "no gri"

load_frames "$WORK/nowcs" g r i u z
xpaset -p galpost infer "$RA1" "$DEC1" tag nowcs
contains "$(wait_job nowcs)" "has no celestial WCS" "frames without WCS (infer RA DEC)"
echo "image; circle(100,100,20)" | xpaset $D regions
xpaset -p $D regions selectall
xpaset -p galpost infer selected tag nowcs2
contains "$(wait_job nowcs2)" "has no celestial WCS: its regions have no sky position" "frames without WCS (selected region)"
alive "no WCS"

load_frames "$WORK/nan" g r i u z
xpaset -p galpost set catalog none
wait_job reload >/dev/null
xpaset -p galpost infer "$RA1" "$DEC1" tag nan
contains "$(wait_job nan)" "are not finite" "NaN stamp refused"
xpaset -p galpost infer "$RA2" "$DEC2" tag nan2
contains "$(wait_job nan2)" "nan2 done" "a stamp partly NaN is filled"
contains "$(xpaget galpost summary)" "masked" "masked pixels flagged"
alive "NaN"

# a file-less frame (loaded from a pipe): its FITS comes through XPA
xpaset -p $D frame delete all
for b in g r i u z; do
    xpaset -p $D frame new
    xpaset $D fits <"$WORK/field/frame-$b-000001-1-0001.fits" || fail "pipe load"
done
[ -z "$(xpaget $D file)" ] || fail "DS9 kept a file name for a piped frame"
xpaset -p galpost infer "$RA1" "$DEC1" tag pipe
contains "$(wait_job pipe)" "pipe done" "frames without a file (FITS through XPA)"
contains "$(xpaget galpost summary)" "frame 1 (no file)" "the result names the piped frame"

# an RGB frame: i, r, g in the red, green and blue channels (colours from
# the catalogue: there are no u and z images)
xpaset -p $D frame delete all
xpaset -p $D frame new rgb
for ch in red:i green:r blue:g; do
    xpaset -p $D rgb channel "${ch%%:*}"
    xpaset -p $D fits "$WORK/field/frame-${ch#*:}-000001-1-0001.fits" || fail "RGB load"
done
xpaset -p $D rgb channel green
xpaset -p galpost set catalog "$WORK/field/photo.csv"
wait_job reload >/dev/null
xpaset -p galpost infer "$RA1" "$DEC1" tag rgb
contains "$(wait_job rgb)" "rgb done" "an RGB frame's channels used as g, r, i"
s=$(xpaget galpost summary)
contains "$s" "r frame 1 green channel" "the r image is the green channel"
contains "$s" "i frame 1 red channel" "the i image is the red channel"
[ "$(xpaget $D rgb channel)" = green ] || fail "the RGB channel was not restored"
pass "the user's RGB channel restored"

# 8. a photometry-only model needs one image with a celestial WCS (DS9 places the
# regions through it) and the catalogue's magnitudes: here a single r image
"$B/galpost" model random "$WORK/phot.gpw" --seed 5 --photometry >/dev/null || fail "galpost model random --photometry"
xpaset -p galpost set model "$WORK/phot.gpw" || fail "set model phot.gpw"
contains "$(wait_job reload)" "reload done" "photometry-only model loaded (catalogue set)"
contains "$(xpaget galpost status)" "needs: one image with a celestial WCS (positions; photometry-only model)" \
    "status: a photometry-only model with a catalogue needs one image"
load_frames "$WORK/field" r
rpath="$WORK/field/frame-r-000001-1-0001.fits"
circle "$RA1" "$DEC1" 8
circle "$RA2" "$DEC2" 6
st=$(run_task $D "Infer selected")
case $st in *" done #"*" #"*) pass "photometry-only model, one r image: both selected galaxies inferred ($st)" ;;
    *) fail "photometry-only model on one r image: $st" ;; esac
set -- $st; id1=${3#\#}; id2=${4#\#}
s1=$(xpaget galpost summary "$id1"); s2=$(xpaget galpost summary "$id2")
case $s1 in *"RA $(printf '%.6f' "$RA2")"*) t=$s1; s1=$s2; s2=$t ;; esac   # DS9 lists regions in its own order
contains "$s1" "RA $(printf '%.6f' "$RA1")" "a result for galaxy 1"
contains "$s1" "colours: catalogue $WORK/field/photo.csv: row 1 (line 2), " "galaxy 1: catalogue magnitudes"
contains "$s1" "ugriz  18.300 16.950 16.200 15.800 15.550" "galaxy 1: extinction-corrected catalogue magnitudes"
contains "$s2" "colours: catalogue $WORK/field/photo.csv: row 2 (line 3), " "galaxy 2: catalogue magnitudes"
contains "$s2" "ugriz  19.600 18.550 17.900 17.550 17.350" "galaxy 2: extinction-corrected catalogue magnitudes"
contains "$s1" "(photometry only)" "the summary names a photometry-only model"
contains "$s1" "position from frame " "the summary names the frame placing the galaxy"
contains "$s1" "($rpath), through DS9" "... the r image"
contains "$s1" "image none (photometry only; no g, r, i cutout: no g image among the 1 frames" \
    "no cutout, and why"
contains "$s1" "flags  catalogue-colours" "flags: catalogue colours only"
j1=$(xpaget galpost summary "$id1" json)
contains "$j1" '"photometry_only": true' "JSON: photometry_only"
contains "$j1" '"frames": null' "JSON: no frames"
contains "$j1" '"cutout": null' "JSON: no cutout"
contains "$j1" '"lgm_tot_p50": {' "JSON: posterior quantities"
[ "$(xpaget galpost samples "$id1" | grep -vc '^#')" -eq 1000 ] || fail "samples of the photometry-only result: not 1000 rows"
pass "1000 posterior samples"
regs=$(xpaget $D regions -format ds9 -system wcs -sky icrs)
contains "$regs" "galpost #$id1  (catalogue colours, photometry-only model, untrained model)" "overlay of galaxy 1"
contains "$regs" "galpost #$id2  (catalogue colours, photometry-only model, untrained model)" "overlay of galaxy 2"
contains "$(xpaget $D plot)" "galpost_bpt" "BPT plot"
# RA/Dec given: it must fall on an image with a celestial WCS
xpaset -p galpost infer "$RA2" "$DEC2" tag ph1 || fail "infer RA DEC"
contains "$(wait_job ph1)" "ph1 done #" "photometry-only model at a given RA/Dec on the r image"
contains "$(xpaget galpost summary)" "position from frame " "given RA/Dec placed on the r image"
contains "$(xpaget galpost summary)" "($rpath)" "... named"
xpaset -p galpost infer "$RA1" "$(awk -v d="$DEC1" 'BEGIN { printf "%.6f", d + 0.06 }')" tag ph2 || fail "infer off"
contains "$(wait_job ph2)" "is off every image with a celestial WCS among the 1 frames of DS9 '$D'" "RA/Dec off the only image"
# the crosshair
xpaset -p $D crosshair "$RA1" "$DEC1" wcs icrs
contains "$(run_task $D "Infer at crosshair")" "done #" "photometry-only model at the crosshair"
contains "$(xpaget galpost summary)" "row 1 (" "crosshair galaxy matched in the catalogue"
xpaset -p $D mode region
# on one image, a click on a catalogue row that cannot be used ('null' u) with
# no usable row within match_radius: refused naming the row, its line and why
xpaset -p galpost set catalog "$WORK/nullu.csv" || fail "set catalog nullu.csv"
xpaset -p galpost infer "$RA1" "$DEC1" tag ph5 || fail "infer on the unusable row"
st=$(wait_job ph5)
contains "$st" "failed: no magnitudes for RA " "the unusable row: no magnitudes"
contains "$st" "catalogue $WORK/nullu.csv: row 1 (line 2), the nearest object within 2.00\" of RA" "... naming the row and its line"
contains "$st" "cannot be used: column 'modelMag_u': 'null' is not a number; and no " "... and why"
contains "$st" "image covers it (no u image among the 1 frames of DS9 '$D'" "... and why no frame gives the magnitudes"
xpaset -p galpost set catalog "$WORK/field/photo.csv" || fail "set catalog photo.csv back"
# any single image with a WCS: no FILTER keyword, no SDSS name, loaded from a pipe
mkdir -p "$WORK/single"
LC_ALL=C sed 's/FILTER  = /NOFILTER= /' "$rpath" >"$WORK/single/image.fits"
grep -q "NOFILTER= " "$WORK/single/image.fits" || fail "could not remove the FILTER keyword"
xpaset -p $D frame delete all
xpaset -p $D frame new
xpaset $D fits <"$WORK/single/image.fits" || fail "pipe load"
xpaset -p galpost infer "$RA1" "$DEC1" tag ph3 || fail "infer RA DEC"
contains "$(wait_job ph3)" "ph3 done #" "photometry-only model on one piped image of no known band"
contains "$(xpaget galpost summary)" "(no file)" "the piped image placed the galaxy"
circle "$RA2" "$DEC2" 6
contains "$(run_task $D "Infer selected")" "done #" "a region on the piped image"
contains "$(xpaget galpost summary)" "row 2 (" "region galaxy matched in the catalogue"
# a frame without WCS cannot place a given RA/Dec
load_frames "$WORK/nowcs" r
xpaset -p galpost infer "$RA1" "$DEC1" tag ph4 || fail "infer RA DEC"
contains "$(wait_job ph4)" "none of the 1 frames of DS9 '$D' is an image with a celestial WCS" "no WCS to place RA/Dec"
# without a catalogue, one image is not enough: refused, saying what is missing
load_frames "$WORK/field" r
xpaset -p galpost set catalog none || fail "set catalog none"
contains "$(wait_job reload)" "reload done" "catalogue removed"
contains "$(xpaget galpost status)" "needs: u, g, r, i, z images with a celestial WCS (photometry-only model" \
    "status: without a catalogue the five images are needed"
circle "$RA1" "$DEC1" 8
st=$(run_task $D "Infer selected")
contains "$st" "failed: the photometry-only model needs ugriz magnitudes: no catalogue is set (xpaset -p galpost set catalog FILE) and DS9 '" \
    "no catalogue and one image: refused, saying there is no catalogue"
contains "$st" "' has no u, g, i or z image among its 1 frame to measure them on (measured magnitudes need u, g, r, i and z images)" \
    "... and which images are missing"
refusal_shown() { case "$(ds9_text_windows $D)" in *"galpost: the photometry-only model needs ugriz magnitudes"*) return 0 ;; esac; return 1; }
poll 10 refusal_shown || fail "the refusal is not in a DS9 text window: $(ds9_text_windows $D)"
pass "the refusal is shown in a DS9 text window"
ds9_close_text_windows $D
alive "photometry-only model without a catalogue"
# ... and with the five images the magnitudes are measured (and g, r, i give the
# cutout for the source check)
load_frames "$WORK/field" g r i u z
circle "$RA1" "$DEC1" 8
contains "$(run_task $D "Infer selected")" "done #" "photometry-only model, no catalogue, five images"
s=$(xpaget galpost summary)
contains "$s" "measured in a 8.0\" aperture" "magnitudes measured on the five images"
contains "$s" "flags  resampled,measured-colours" "flags: resampled, measured colours"
contains "$s" "source at the centre: S/N" "the g, r, i cutout gave the source check"
xpaset -p galpost set model "$WORK/model.gpw" || fail "set model back"
xpaset -p galpost set catalog "$WORK/field/photo.csv" || fail "set catalog back"
contains "$(wait_job reload)" "reload done" "image model and catalogue back"

# 8. a file changed or deleted on disk after DS9 loaded it: galpostd reads
# the pixels DS9 shows (from DS9) or refuses, never the file's new pixels
mkdir -p "$WORK/chg"
cp "$WORK/field"/frame-[gru]-000001-1-0001.fits "$WORK/field/frame-z-000001-1-0001.fits" "$WORK/chg/"
gzip -c "$WORK/field/frame-i-000001-1-0001.fits" >"$WORK/chg/frame-i-000001-1-0001.fits.gz"
# galpostd remembers a file found to be what DS9 shows only once it has been left
# alone 0.1 s (a rewrite within one clock tick would keep its identity): these are
# (a precondition of the 'not compared again' check below, not a timing test)
sleep 0.2
shift_crval() {   # shift_crval IN OUT: the same frame, CRVAL1 185.25 -> 185.26 (the same card length)
    LC_ALL=C sed 's/^\(.*CRVAL1  =               \)185.25 /\1185.26 /' "$1" >"$2.tmp" && mv "$2.tmp" "$2"
    grep -q "CRVAL1  =               185.26 " "$2" || fail "could not shift CRVAL1 in $2"
}
band_sum() {   # band_sum BAND: the cutout total of the newest result in BAND
    xpaget galpost summary json | sed -n "s/.*\"$1\": {\"sum\": \([^,]*\),.*/\1/p"
}
xpaset -p $D frame delete all
for f in frame-g-000001-1-0001.fits frame-r-000001-1-0001.fits frame-i-000001-1-0001.fits.gz \
         frame-u-000001-1-0001.fits frame-z-000001-1-0001.fits; do
    xpaset -p $D frame new
    xpaset -p $D fits "$WORK/chg/$f" || fail "DS9 cannot load $f"
done
xpaset -p galpost infer "$RA1" "$DEC1" tag chg0 || fail "infer"
contains "$(wait_job chg0)" "chg0 done #" "files as DS9 loaded them"
r0=$(band_sum r) g0=$(band_sum g)
[ -n "$r0" ] && [ -n "$g0" ] || fail "no cutout sums in the JSON summary"
# a file found to be what DS9 shows is not compared again while it is unchanged
# on disk (gpd_verified.c): no DS9 header is fetched for it (status counts them)
headers() {   # headers: "FETCHED NOT_FETCHED" DS9 headers so far
    xpaget galpost status | sed -n 's/^ds9_headers: \([0-9]*\) fetched, \([0-9]*\) not fetched.*/\1 \2/p'
}
expect_headers() {   # expect_headers FETCHED NOT_FETCHED WHAT: since the last call
    set -- $(headers) "$@"
    [ "$(($1 - hf))" = "$3" ] && [ "$(($2 - hs))" = "$4" ] ||
        fail "$5: $(($1 - hf)) DS9 headers fetched and $(($2 - hs)) not, expected $3 and $4"
    pass "$5: $3 DS9 headers fetched, $4 not"
    hf=$1 hs=$2
}
set -- $(headers); hf=$1 hs=$2
[ -n "$hf" ] || fail "status has no ds9_headers line"
xpaset -p galpost infer "$RA1" "$DEC1" tag chg0b || fail "infer"
contains "$(wait_job chg0b)" "chg0b done #" "the same files again"
expect_headers 0 5 "unchanged files (the .gz one found the same by the worker)"
[ "$(band_sum r)" = "$r0" ] && [ "$(band_sum g)" = "$g0" ] || fail "unchanged files gave other cutout totals"
# a rewrite in place that keeps the size and the modification time (touch -r):
# only the change time moves, and the file is compared again.  (DS9 maps a
# plain FITS file, so its header shows the rewrite too and the two agree.)
zf=$WORK/chg/frame-z-000001-1-0001.fits
touch -r "$zf" "$WORK/z.time"
id0=$(stat -c '%i %s %y' "$zf")
off=$(LC_ALL=C grep -abo "CRVAL1  =               185.25 " "$zf" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "no CRVAL1 card in $zf"
printf '185.26' | dd of="$zf" bs=1 seek=$((off + 24)) conv=notrunc 2>/dev/null || fail "dd"
touch -r "$WORK/z.time" "$zf"
[ "$(stat -c '%i %s %y' "$zf")" = "$id0" ] || fail "the z file's inode, size or mtime changed: $(stat -c '%i %s %y' "$zf")"
xpaset -p galpost infer "$RA1" "$DEC1" tag chg0c || fail "infer"
contains "$(wait_job chg0c)" "chg0c done #" "a same-size rewrite under the same mtime: done"
expect_headers 1 4 "the z file rewritten in place"
not_compared() {   # not_compared TAG: the frames request TAG trusted without a DS9 header
    awk -v t="tag $1" 'index($0, "queued:") && index($0, t) { on = 1; next }
                       on && index($0, t " done") { exit }
                       on && /not compared again/ { sub(/.*debug: /, ""); sub(/ \(.*/, ""); printf "%s,", $0 }' \
        "$WORK/galpostd.log"
}
# the r file rewritten (another WCS), the g file deleted, DS9 not told
shift_crval "$WORK/field/frame-r-000001-1-0001.fits" "$WORK/chg/frame-r-000001-1-0001.fits"
rm "$WORK/chg/frame-g-000001-1-0001.fits"
xpaset -p galpost infer "$RA1" "$DEC1" tag chg1 || fail "infer"
contains "$(wait_job chg1)" "chg1 done #" "a changed and a deleted file: the request is done"
nc=$(not_compared chg1)
case ",$nc" in *",frame 1,"*|*",frame 2,"*) fail "the replaced r or deleted g file trusted without a header: $nc" ;; esac
case ",$nc" in *",frame 3,"*) ;; *) fail "the unchanged i file compared again: trusted only $nc" ;; esac
case ",$nc" in *",frame 4,"*) ;; *) fail "the unchanged u file compared again: trusted only $nc" ;; esac
pass "r replaced and g deleted compared again, i and u trusted ($nc)"
set -- $(headers); hf=$1 hs=$2
[ "$(band_sum r)" = "$r0" ] || fail "r cutout total $(band_sum r), not $r0: the changed file's pixels were used"
[ "$(band_sum g)" = "$g0" ] || fail "g cutout total $(band_sum g), not $g0"
pass "the pixels are those DS9 shows (r: $r0, g: $g0), read from DS9"
s=$(xpaget galpost summary)
contains "$s" "frame-r-000001-1-0001.fits; the file changed after loading: read from DS9)" "summary: the changed r file said"
contains "$s" "frame-g-000001-1-0001.fits; the file is gone: read from DS9)" "summary: the deleted g file said"
contains "$(cat "$WORK/galpostd.log")" "frame-r-000001-1-0001.fits): the file on disk is not what DS9 shows (it changed after loading: CRVAL1 = 185.26 in the file, 185.25 in DS9)" \
    "log: the first differing card"
alive "changed and deleted files"
# a compressed file is compared by the worker: a clear refusal
shift_crval "$WORK/field/frame-i-000001-1-0001.fits" "$WORK/chg/i.fits"
gzip -c "$WORK/chg/i.fits" >"$WORK/chg/frame-i-000001-1-0001.fits.gz"
xpaset -p galpost infer "$RA1" "$DEC1" tag chg2 || fail "infer"
st=$(wait_job chg2)
contains "$st" "chg2 failed" "a changed .gz file: refused"
contains "$st" "frame 3 ($WORK/chg/frame-i-000001-1-0001.fits.gz): the file on disk is not what DS9 shows (it changed after loading: CRVAL1 = 185.26 in the file, 185.25 in DS9); reload it in DS9" \
    "... naming the frame, the file and the first differing card"
alive "a changed .gz file"
# reloaded in DS9, the new files are used as they are
xpaset -p $D frame 2
xpaset -p $D fits "$WORK/chg/frame-r-000001-1-0001.fits" || fail "reload r"
xpaset -p $D frame 3
xpaset -p $D fits "$WORK/chg/frame-i-000001-1-0001.fits.gz" || fail "reload i"
xpaset -p galpost infer "$RA1" "$DEC1" tag chg3 || fail "infer"
contains "$(wait_job chg3)" "chg3 done #" "reloaded files: done"
[ "$(band_sum r)" != "$r0" ] || fail "the reloaded r file gave the old cutout total $r0"
pass "the reloaded r file is read (r: $(band_sum r), was $r0)"
s=$(xpaget galpost summary)
contains "$s" "r frame 2 ($WORK/chg/frame-r-000001-1-0001.fits)" "summary: the reloaded r file read from disk"
# a frame deleted in DS9 is forgotten
xpaset -p $D frame 4
xpaset -p $D frame delete
xpaset -p galpost infer "$RA1" "$DEC1" tag chg4 || fail "infer"
contains "$(wait_job chg4)" "chg4 done #" "a frame deleted"
contains "$(cat "$WORK/galpostd.log")" "frame 4 ($WORK/chg/frame-u-000001-1-0001.fits) is no longer in DS9 '$D': forgotten" \
    "log: the deleted frame's file forgotten"

# DS9 gone mid-request: stopped, then killed while galpostd waits on it
kill -STOP "$DS9_PID"
xpaset -p galpost infer "$RA1" "$DEC1" ds9 $D tag gone || fail "infer queued"
sleep 0.5
kill -KILL "$DS9_PID"
st=$(wait_job gone)
contains "$st" "gone failed: DS9 '$D'" "DS9 gone mid-request"
s=$(xpaget galpost status) || fail "galpostd stopped serving after DS9 died"
contains "$s" "queue: 0 queued, idle" "galpostd serves after DS9 died"
echo "PASS: $TEST"
