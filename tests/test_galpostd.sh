#!/bin/sh
# test_galpostd.sh: galpostd on its own (no DS9): start-up, pidfile, log,
# configuration file and options, the XPA sub-commands and their errors
# (malformed and unknown sub-commands, huge buffers, a DS9 that is not
# there), settings, SIGHUP reload, a failed reload keeping the model,
# refusal of a second instance, daemon mode, clean SIGTERM and quit.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
# --help names every setting of the man page's Settings list
help=$("$B/galpostd" --help) || fail "galpostd --help"
keys=$(sed -n '/^\.Ss Settings/,/^\.Sh/s/^\.It Cm \([a-z_0-9]*\).*/\1/p' "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/man/galpostd.1.in")
[ -n "$keys" ] || fail "no settings found in galpostd.1"
for k in $keys; do contains "$help" "--$k " "galpostd --help names --$k"; done
need xpaset xpaget xpaaccess

"$B/galpost" model random "$WORK/model.gpw" --seed 7 >/dev/null || fail "galpost model random"
cat >"$WORK/galpostd.conf" <<EOF
# test configuration
model = $WORK/model.gpw
samples = 200       # fewer samples: fast
log_level = debug
ds9 = nods9here
EOF

start_galpostd -c "$WORK/galpostd.conf" --seed 5
pass "galpostd started, pidfile holds its pid"
grep -q "ready: XPA access point 'galpost'" "$WORK/galpostd.log" || fail "no 'ready' in the log"
pass "log says ready"

s=$(xpaget galpost status) || fail "status"
contains "$s" "samples: 200" "status: samples from the configuration file"
contains "$s" "seed: 5" "status: seed from the command line"
contains "$s" "UNTRAINED" "status: says the model is untrained"
contains "$s" "queue: 0 queued, idle" "status: queue"
contains "$(xpaget galpost help)" "xpaset -p galpost infer" "help"
contains "$(xpaget galpost help)" "photometry-only model needs one image with a WCS and a catalogue" \
    "help says what a photometry-only model needs"
contains "$s" "needs: g, r, i images with a celestial WCS (cutouts) and u, z images (ugriz measured; no catalogue)" \
    "status: what an image model without a catalogue needs"
contains "$(xpaget galpost model)" "trained: no" "model"
contains "$(xpaget galpost model info)" "model.trained" "model info"
contains "$(xpaget galpost set)" "match_radius 2" "set lists the settings"

# malformed and unknown requests: clear XPA errors, exit status 1
expect_error() {   # expect_error NEEDLE WHAT command...
    needle=$1; what=$2; shift 2
    out=$("$@" 2>&1) && fail "$what: succeeded, expected an error"
    contains "$out" "$needle" "$what"
}
expect_error "'foo' is not selected, all, crosshair" "infer foo" xpaset -p galpost infer foo
expect_error "outside 0 <= RA < 360 degrees" "infer with RA 400" xpaset -p galpost infer 400 10
expect_error "needs a Dec" "infer with RA only" xpaset -p galpost infer 150.1
expect_error "is not a Dec" "infer with a bad Dec" xpaset -p galpost infer 150.1 north
expect_error "unexpected 'extra'" "infer with extra words" xpaset -p galpost infer selected extra
# a mistyped sub-command: the message names the word, the nearest command
# (2 edits at most) and the valid ones of each direction
lists="(xpaget commands: summary, samples, bpt, job, status, model, catalog, set, help; xpaset: infer, set, plot, clear, quit); see galpostd(1)"
expect_error "galpost: unknown command 'staus', did you mean 'status'?" "mistyped xpaget" \
    xpaget galpost staus
contains "$out" "$lists" "mistyped xpaget: the commands of each direction"
expect_error "galpost: unknown command 'infr', did you mean 'infer'?" "mistyped xpaset" \
    xpaset -p galpost infr 150.1 2.2
contains "$out" "(xpaset commands: infer, set, plot, clear, quit; xpaget: summary," \
    "mistyped xpaset: xpaset commands first"
expect_error "unknown command 'infre', did you mean 'infer'?" "swapped letters" xpaset -p galpost infre all
expect_error "unknown command 'Status', did you mean 'status'?" "capitalised" xpaget galpost Status
expect_error "unknown command 'staus', did you mean 'xpaget galpost status'?" \
    "an xpaget command mistyped with xpaset" xpaset -p galpost staus
expect_error "galpost: unknown command 'frobnicate' (xpaget commands:" "unknown sub-command (get)" \
    xpaget galpost frobnicate
case $out in *"did you mean"*) fail "a suggestion for 'frobnicate': $out" ;; esac
expect_error "galpost: unknown command 'frobnicate' (xpaset commands:" "unknown sub-command (set)" \
    xpaset -p galpost frobnicate
expect_error "galpost: 'infer' is an xpaset command, not an xpaget one" "xpaset command with xpaget" \
    xpaget galpost infer
expect_error "galpost: 'status' is an xpaget command, not an xpaset one" "xpaget command with xpaset" \
    xpaset -p galpost status
# ';'-separated commands are all checked before any runs
expect_error "unknown command 'stet', did you mean 'set'?" "a mistyped second command" \
    xpaset -p galpost "set samples 150; stet seed 3"
[ "$(xpaget galpost set samples)" = 200 ] || fail "the first command ran: samples $(xpaget galpost set samples)"
pass "nothing of a list with a mistyped command runs"
# galpostd serves on; valid commands, XPA's help and several commands work
kill -0 "$GPD_PID" || fail "galpostd died after the mistyped commands"
contains "$(xpaget galpost status)" "queue: 0 queued, idle" "status after the mistyped commands"
xpaset -p galpost "set samples 150; set samples 200" || fail "two commands after the mistyped ones"
[ "$(xpaget galpost set samples)" = 200 ] || fail "samples not 200 after two commands"
contains "$(xpaget galpost -help)" "$(printf 'status:\tmodel, backend')" "xpaget galpost -help lists the commands"
contains "$(xpaget galpost infer -help)" "infer galaxies" "xpaget galpost infer -help"
expect_error "no result yet" "summary before any result" xpaget galpost summary
expect_error "neither a result number nor a known format" "summary xml" xpaget galpost summary 1 xml
expect_error "'abc' is not an integer" "set samples abc" xpaset -p galpost set samples abc
expect_error "unknown setting 'colour'" "set unknown key" xpaset -p galpost set colour red
expect_error "only be changed when galpostd starts" "set name" xpaset -p galpost set name other
expect_error "takes no parameters" "status with parameters" xpaget galpost status now
head -c 20000000 /dev/zero >"$WORK/big"
expect_error "bytes of data refused" "a 20 MB buffer" sh -c "xpaset galpost infer <'$WORK/big'"
expect_error "takes no data" "data sent to clear" sh -c "echo junk | xpaset galpost clear"
rm -f "$WORK/big"

# a DS9 that is not there: the request fails, galpostd keeps serving
xpaset -p galpost infer 150.1 2.2 tag nods9 || fail "infer queued"
st=$(wait_job nods9)
contains "$st" "nods9 failed: DS9 'nods9here' is not answering" "infer without DS9 fails clearly"
contains "$(xpaget galpost status)" "requests: 0 done, 1 failed" "status counts the failure"

# settings
# zeropoint: 'header' by default, one magnitude or band=ZP pairs; malformed
# values refused with the setting unchanged, and galpostd keeps serving
[ "$(xpaget galpost set zeropoint)" = header ] || fail "zeropoint is not 'header' by default"
xpaset -p galpost set zeropoint 27.0 || fail "set zeropoint 27.0"
[ "$(xpaget galpost set zeropoint)" = 27 ] || fail "zeropoint not 27: $(xpaget galpost set zeropoint)"
xpaset -p galpost set zeropoint "g=27.1,r=27 i=26.8" || fail "set zeropoint per band"
[ "$(xpaget galpost set zeropoint)" = "g=27.1,r=27,i=26.8" ] || fail "zeropoint per band: $(xpaget galpost set zeropoint)"
expect_error "'abc' is not 'header', a magnitude between 15 and 40" "set zeropoint abc" xpaset -p galpost set zeropoint abc
expect_error "'99' is not a magnitude between 15 and 40" "set zeropoint g=99" xpaset -p galpost set zeropoint g=99
expect_error "'x=27' is not BAND=ZP" "set zeropoint x=27" xpaset -p galpost set zeropoint x=27
expect_error "band r given twice" "set zeropoint r twice" xpaset -p galpost set zeropoint r=27,r=28
[ "$(xpaget galpost set zeropoint)" = "g=27.1,r=27,i=26.8" ] || fail "a refused zeropoint changed it: $(xpaget galpost set zeropoint)"
contains "$(xpaget galpost set)" "zeropoint g=27.1,r=27,i=26.8" "set lists the zero point"
xpaset -p galpost set zeropoint header || fail "set zeropoint header"
[ "$(xpaget galpost set zeropoint)" = header ] || fail "zeropoint not back to header"
contains "$(xpaget galpost status)" "queue: 0 queued" "galpostd serves after the refused zero points"
xpaset -p galpost set samples 300 || fail "set samples"
[ "$(xpaget galpost set samples)" = 300 ] || fail "samples not 300"
pass "set samples 300"
xpaset -p galpost set log_level info || fail "set log_level"

# SIGHUP: the configuration file is read again and the model reloaded
sed -i 's/^samples = 200/samples = 250/' "$WORK/galpostd.conf"
kill -HUP "$GPD_PID"
st=$(wait_job reload)
contains "$st" "reload done" "SIGHUP reload"
[ "$(xpaget galpost set samples)" = 250 ] || fail "SIGHUP did not re-read samples"
pass "SIGHUP re-read the configuration"
grep -q "SIGHUP: configuration re-read" "$WORK/galpostd.log" || fail "no SIGHUP in the log"

# a model that cannot be opened is refused by `set` itself, the setting unchanged
before=$(xpaget galpost set model)
out=$(xpaset -p galpost set model "$WORK/missing.gpw" 2>&1) && fail "set model to a missing file accepted"
contains "$out" "set model: " "missing model refused"
contains "$out" "missing.gpw" "the refusal names the file"
[ "$(xpaget galpost set model)" = "$before" ] || fail "a refused model changed the setting: $(xpaget galpost set model)"
printf 'not a weights file\n' >"$WORK/junk.gpw"
out=$(xpaset -p galpost set model "$WORK/junk.gpw" 2>&1) && fail "set model to a junk file accepted"
contains "$out" "junk.gpw" "junk model refused, naming it"
out=$(xpaset -p galpost set catalog "$WORK/missing.csv" 2>&1) && fail "set catalog to a missing file accepted"
contains "$out" "set catalog: $WORK/missing.csv: cannot open" "missing catalogue refused"
# set catalog reads the catalogue before it answers: a readable file that is
# no catalogue is refused by set itself, with the reason, the setting and
# the model unchanged
out=$(xpaset -p galpost set catalog "$WORK/junk.gpw" 2>&1) && fail "set catalog to a file that is no catalogue accepted"
contains "$out" "set catalog: $WORK/junk.gpw: no " "a file that is no catalogue refused by set, naming it and why"
[ "$(xpaget galpost set catalog)" = none ] || fail "a refused catalogue changed the setting: $(xpaget galpost set catalog)"
pass "a refused catalogue leaves the setting"
contains "$(xpaget galpost status)" "model: $WORK/model.gpw" "the model is still in use"
# a reload that fails (SIGHUP, the configuration file naming a file that is
# no catalogue) keeps the old model and catalogue
echo "catalog = $WORK/junk.gpw" >>"$WORK/galpostd.conf"
kill -HUP "$GPD_PID"
reload_failed() { grep -q "reload failed, keeping the previous model: $WORK/junk.gpw: no " "$WORK/galpostd.log"; }
poll 10 reload_failed || fail "SIGHUP with a bad catalogue: no failed reload in the log"
pass "failed reload keeps the model"
contains "$(xpaget galpost status)" "model: $WORK/model.gpw" "the old model is still in use"
sed -i '/^catalog = /d' "$WORK/galpostd.conf"
xpaset -p galpost set catalog none || fail "set catalog none after the failed reload"
# a catalogue's rows that cannot be read are never matched, and status says how many
printf 'ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n150.1,2.2,19,18,17,16.5,16\n150.1,2.2,19\n150.1,2.2,x,18,17,16.5,16\n' \
    >"$WORK/unread.csv"
xpaset -p galpost set catalog "$WORK/unread.csv" || fail "set catalog unread.csv"
# ... and once set answers, the catalogue is in use: a script queries it at
# once (no job to wait for); its first data row is row 1, as in every message
contains "$(xpaget galpost catalog 2>&1)" "1 150.1000000 +2.2000000 19.000 18.000 17.000 16.500 16.000 -1" \
    "xpaget galpost catalog right after set catalog lists it, row 1 first"
contains "$(xpaget galpost status)" "catalog: $WORK/unread.csv (3 rows, no extinction columns, 2 unreadable rows never matched)" \
    "status counts the catalogue's unreadable rows"
contains "$(wait_job reload)" "reload done" "the catalogue's reload job ends"
contains "$(xpaget galpost status)" "needs: g, r, i images with a celestial WCS (cutouts); ugriz from the catalogue, else measured" \
    "status: what an image model with a catalogue needs"
xpaset -p galpost set catalog none || fail "set catalog none"
contains "$(xpaget galpost status)" "catalog: none" "set catalog none: no catalogue once set answers"
out=$(xpaget galpost catalog 2>&1) && fail "catalog listed after set catalog none"
contains "$out" "catalog: no catalogue" "no catalogue to list"
# a photometry-only model: status says what it needs with and without a catalogue
"$B/galpost" model random "$WORK/phot.gpw" --seed 7 --photometry >/dev/null || fail "galpost model random --photometry"
xpaset -p galpost set model "$WORK/phot.gpw" || fail "set model phot.gpw"
contains "$(wait_job reload)" "reload done" "photometry-only model loaded"
contains "$(xpaget galpost status)" "needs: u, g, r, i, z images with a celestial WCS (photometry-only model, ugriz measured; with a catalogue one image would do" \
    "status: a photometry-only model without a catalogue needs the five images"
# a catalogue set while a model reload may still be queued: the reload keeps it
xpaset -p galpost set model "$WORK/phot.gpw" || fail "set model phot.gpw again"
xpaset -p galpost set catalog "$WORK/unread.csv" || fail "set catalog unread.csv"
contains "$(wait_job reload)" "reload done" "photometry-only model with a catalogue"
contains "$(xpaget galpost status)" "needs: one image with a celestial WCS (positions; photometry-only model); ugriz from the catalogue" \
    "status: a photometry-only model with a catalogue needs one image"
contains "$(xpaget galpost status)" "catalog: $WORK/unread.csv (3 rows" "the model reload kept the catalogue set after it"
xpaset -p galpost set catalog none || fail "set catalog none"
xpaset -p galpost set model "$WORK/model.gpw" || fail "set model back"
contains "$(wait_job reload)" "reload done" "image model back"

# a second instance is refused while the first serves
out=$("$B/galpostd" -f --model "$WORK/model.gpw" --log "$WORK/second.log" 2>&1) && fail "second instance started"
contains "$out" "already answers" "second instance refused"

# SIGTERM: clean exit, access point and pidfile gone
kill -TERM "$GPD_PID"
n=0
while kill -0 "$GPD_PID" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
kill -0 "$GPD_PID" 2>/dev/null && fail "galpostd still runs 5 s after SIGTERM"
wait "$GPD_PID"; rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ ! -e "$WORK/galpostd.pid" ] || fail "pidfile left behind"
[ "$(xpaaccess -c galpost 2>/dev/null)" = no ] || fail "access point still registered"
ls "$XPA_TMPDIR" | grep -q "galpost_galpost" && fail "XPA socket file left behind"
pass "SIGTERM: exit 0, pidfile and access point removed"

# a model that cannot be read: a clear message, exit status 1
out=$("$B/galpostd" -f --model "$WORK/none.gpw" 2>&1) && fail "started without a model"
contains "$out" "none.gpw" "missing model named (foreground)"
out=$("$B/galpostd" --model "$WORK/none.gpw" 2>&1) && fail "daemon started without a model"
contains "$out" "none.gpw" "missing model named (daemon mode)"
out=$("$B/galpostd" --samples many 2>&1); rc=$?
[ $rc -eq 2 ] || fail "bad option: exit $rc"
contains "$out" "'many' is not an integer" "bad option value"

# daemon mode: returns when ready; quit stops it
"$B/galpostd" --model "$WORK/model.gpw" --log "$WORK/daemon.log" --pidfile "$WORK/daemon.pid" || fail "daemon mode"
dpid=$(cat "$WORK/daemon.pid")
remember "$dpid"
contains "$(xpaget galpost status)" "pid: $dpid" "daemon serves when galpostd returns"
xpaset -p galpost quit || fail "quit"
n=0
while kill -0 "$dpid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
kill -0 "$dpid" 2>/dev/null && fail "daemon still runs after quit"
[ ! -e "$WORK/daemon.pid" ] || fail "daemon pidfile left behind"
pass "quit stops the daemon"
echo "PASS: $TEST"
