# bench_ds9_lib.sh: sourced by the DS9 benchmarks (bench_click.sh,
# bench_files.sh): a work directory with a private XPA name server
# (XPA_METHOD=local), and a cleanup on exit that stops galpostd, the
# processes listed in PIDS and that name server, and removes the directory
# (kept, and named, when BENCH_KEEP is set).
# Usage: . bench_ds9_lib.sh NAME   (sets WORK, exports XPA_METHOD, XPA_TMPDIR)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
mkdir -p "$WORK/xpa"
export XPA_METHOD=local XPA_TMPDIR="$WORK/xpa"
PIDS=""
bench_ds9_cleanup() {
    xpaset -p galpost quit >/dev/null 2>&1
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in $(pgrep -f "xpans .*$XPA_TMPDIR" 2>/dev/null); do kill "$p" 2>/dev/null; done
    [ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap bench_ds9_cleanup EXIT
