# ds9_lib.sh: sourced by the galpostd/DS9 tests.  Everything runs under
# XPA_METHOD=local with a private XPA_TMPDIR (its own XPA name server), on
# a private Xvfb display; every process started here is stopped on exit,
# whatever happens (trap), by its own pid.
#
# Provides: WORK (temporary directory), B (build tree), S (source tree),
# ART (artefact directory), fail, pass, need, contains, start_xvfb,
# start_ds9 NAME, start_galpostd ARGS..., wait_job TAG, ds9_text_windows,
# stop_pid PID.

set -u
B=${GP_TOP_BUILDDIR:-$(pwd)}
S=${GP_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
ART=$B/tests/artefacts
TEST=$(basename "$0" .sh)

need() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
    done
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST.XXXXXX") || exit 99
mkdir -p "$WORK/xpa"
export XPA_METHOD=local XPA_TMPDIR="$WORK/xpa"
# a short XPA timeout: a hung DS9 must not stall the suite
export XPA_SHORT_TIMEOUT=5 XPA_LONG_TIMEOUT=10
unset DISPLAY
PIDS=""
KEEP_WORK=${GP_KEEP_WORK:-}

stop_pid() {
    pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 30 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    rc=$?
    # newest first: galpostd, DS9, then the X server and the name server
    for pid in $PIDS; do stop_pid "$pid"; done
    # the XPA name server the first process started (it serves only our
    # private XPA_TMPDIR, which its command line names)
    for pid in $(pgrep -f "xpans .*$XPA_TMPDIR" 2>/dev/null); do stop_pid "$pid"; done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$WORK/galpostd.log" ]; then
        echo "--- galpostd.log (last 30 lines)"; tail -30 "$WORK/galpostd.log"
    fi
    [ -n "$KEEP_WORK" ] || rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

# contains TEXT NEEDLE WHAT
contains() {
    case $1 in
        *"$2"*) pass "$3" ;;
        *) printf 'FAIL: %s: expected "%s" in:\n%s\n' "$3" "$2" "$1"; exit 1 ;;
    esac
}

remember() { PIDS="$1 $PIDS"; }

start_xvfb() {
    need Xvfb
    Xvfb -displayfd 9 -screen 0 1800x1000x24 -nolisten tcp 9>"$WORK/display" >"$WORK/xvfb.log" 2>&1 &
    remember $!
    n=0
    while [ ! -s "$WORK/display" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
    [ -s "$WORK/display" ] || fail "Xvfb did not start: $(cat "$WORK/xvfb.log")"
    DISPLAY=:$(head -1 "$WORK/display")
    export DISPLAY
}

# start_ds9 NAME [ds9 options...]
start_ds9() {
    need ds9 xpaset xpaget xpaaccess
    name=$1; shift
    ds9 -title "$name" -geometry 1100x850 "$@" >"$WORK/ds9.log" 2>&1 &
    DS9_PID=$!
    remember $DS9_PID
    n=0
    until [ "$(xpaaccess -c -t 2,2 "$name" 2>/dev/null)" = yes ]; do
        n=$((n + 1))
        [ $n -lt 60 ] || fail "DS9 did not answer XPA in 30 s: $(cat "$WORK/ds9.log")"
        kill -0 $DS9_PID 2>/dev/null || fail "DS9 exited: $(cat "$WORK/ds9.log")"
        sleep 0.5
    done
}

# start_galpostd ARGS...: foreground, logging and pidfile in WORK
start_galpostd() {
    rm -f "$WORK/galpostd.pid"
    "$B/galpostd" -f --log "$WORK/galpostd.log" --pidfile "$WORK/galpostd.pid" "$@" &
    GPD_PID=$!
    remember $GPD_PID
    n=0
    until [ -s "$WORK/galpostd.pid" ]; do
        n=$((n + 1))
        kill -0 $GPD_PID 2>/dev/null || fail "galpostd exited: $(tail -5 "$WORK/galpostd.log" 2>/dev/null)"
        [ $n -lt 200 ] || fail "galpostd wrote no pidfile in 20 s"
        sleep 0.1
    done
    [ "$(cat "$WORK/galpostd.pid")" = "$GPD_PID" ] || fail "pidfile holds $(cat "$WORK/galpostd.pid"), not $GPD_PID"
}

# wait_job [TAG]: the final state line of a request (the newest without TAG)
wait_job() {
    n=0
    while :; do
        st=$(xpaget galpost job ${1:-} 2>&1)
        case $st in
            *" done"*|*" failed"*) printf '%s\n' "$st"; return 0 ;;
        esac
        n=$((n + 1))
        [ $n -lt 300 ] || { printf 'TIMEOUT %s\n' "$st"; return 1; }
        sleep 0.05
    done
}

# ds9_text_windows NAME: the text of DS9's open text dialogs (analysis output)
ds9_text_windows() {
    cat >"$WORK/dump.tcl" <<EOF
global istxt
set f [open {$WORK/text.out} w]
foreach v \$istxt(dialogs) {
    upvar #0 \$v var
    if {[winfo exists \$var(text)]} { puts \$f "== \$v"; puts \$f [\$var(text) get 1.0 end] }
}
close \$f
EOF
    rm -f "$WORK/text.out"
    xpaset -p "$1" tcl "{source $WORK/dump.tcl}" || fail "DS9 tcl"
    cat "$WORK/text.out"
}

# ds9_close_text_windows NAME
ds9_close_text_windows() {
    cat >"$WORK/close.tcl" <<'EOF'
global istxt
foreach v $istxt(dialogs) { catch {SimpleTextDestroy $v} }
EOF
    xpaset -p "$1" tcl "{source $WORK/close.tcl}" || fail "DS9 tcl"
}

# run_task DS9 TASK: run an analysis task through XPA and wait for the
# galpost request it makes (tagged ds9-PID by galpost-ds9); prints its state
run_task() {
    prev=$(xpaget galpost job 2>/dev/null | cut -d' ' -f1)
    xpaset -p "$1" analysis task "{$2}" || fail "analysis task '$2'"
    n=0
    while :; do
        st=$(xpaget galpost job 2>&1)
        if [ "${st%% *}" != "$prev" ]; then
            case $st in *" done"*|*" failed"*) printf '%s\n' "$st"; return 0 ;; esac
        fi
        n=$((n + 1))
        [ $n -lt 300 ] || { printf 'TIMEOUT %s\n' "$st"; return 1; }
        sleep 0.05
    done
}

# poll SECONDS COMMAND...: until COMMAND succeeds
poll() {
    lim=$(($1 * 20)); shift
    n=0
    until "$@"; do
        n=$((n + 1))
        [ $n -lt $lim ] || return 1
        sleep 0.05
    done
}
