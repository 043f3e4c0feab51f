#!/bin/sh
# bench_files.sh: what galpostd's reading of DS9 (the gather stage) costs
# with five real frames loaded from files: the check that each file is
# still what DS9 shows (gpd_header.c, gpd_verified.c) is paid there.  A
# headless DS9 (Xvfb) with the u, g, r, i, z frames of DIR loaded from
# their files, galpostd on the CPU backend, and N requests 'infer RA DEC'
# (a galaxy of the field) sent one after the other through XPA,
# each waited for.  The first request (files opened, a compressed file
# decompressed by the worker) is left out of the figures.
#
#   bench/bench_files.sh [N] [DIR] [RA DEC]   (from the build directory)
#
# DIR holds frame-{u,g,r,i,z}-*.fits (or .fits.bz2, .fits.gz); default the
# SDSS frames in ../shared/data/sdss-frames/004510-4-0030 (bzip2), and
# RA DEC a galaxy in them (200.510010 36.730886, as tests/test_ds9_sdss.sh).
# $GALPOSTD runs instead of the build's galpostd (a baseline binary);
# model: $GALPOST_MODEL, else a random model of the default architecture.
# Prints the median (10%-90%) of the gather, compute, publish and total
# times galpostd logs for each request, and how many DS9 headers it
# fetched and skipped.  Everything is stopped at the end.
set -u
N=${1:-25}
B=$(pwd)
S=$(cd "$(dirname "$0")/.." && pwd)
DIR=${2:-$S/../shared/data/sdss-frames/004510-4-0030}
ra=${3:-200.510010} dec=${4:-36.730886}
GPD=${GALPOSTD:-$B/galpostd}
[ -x "$GPD" ] && [ -x "$B/galpost" ] || { echo "run from the build directory after make"; exit 2; }
. "$S/bench/bench_ds9_lib.sh" bench_files
trap 'exit 1' INT TERM

model=${GALPOST_MODEL:-}
if [ -z "$model" ]; then "$B/galpost" model random "$WORK/model.gpw" --seed 1 >/dev/null; model=$WORK/model.gpw; fi
Xvfb -displayfd 9 -screen 0 1600x1200x24 -nolisten tcp 9>"$WORK/display" >/dev/null 2>&1 &
PIDS="$! $PIDS"
while [ ! -s "$WORK/display" ]; do sleep 0.05; done
export DISPLAY=:$(head -1 "$WORK/display")
ds9 -title bench >/dev/null 2>&1 &
PIDS="$! $PIDS"
until [ "$(xpaaccess -c -t 2,2 bench 2>/dev/null)" = yes ]; do sleep 0.3; done
"$GPD" --model "$model" --backend cpu --ds9 bench --pidfile "$WORK/gpd.pid" --log "$WORK/gpd.log" || exit 1
PIDS="$(cat "$WORK/gpd.pid") $PIDS"
first=1
for b in u g r i z; do
    f=$(ls "$DIR"/frame-$b-*.fits* | head -1)
    [ -n "$f" ] || { echo "no $b frame in $DIR"; exit 1; }
    [ $first = 1 ] || xpaset -p bench frame new
    first=0
    # DS9 8.4.1 loads a .bz2 file but answers 'child killed: write on pipe
    # with no readers' (its bzip2 child): what it loaded is what counts
    xpaset -p bench fits "$f" 2>/dev/null
    [ "$(xpaget bench file)" = "$f" ] || { echo "DS9 cannot load $f"; exit 1; }
done
xpaset -p bench frame 3
wait_tag() {
    while :; do
        case $(xpaget galpost job "$1" 2>&1) in
            *" done"*|*" failed"*) return ;;
        esac
        sleep 0.02
    done
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $N requests, frames $(cd "$DIR" && ls frame-[ugriz]-*.fits* | tr '\n' ' ')"
i=0
while [ $i -le "$N" ]; do
    xpaset -p galpost infer "$ra" "$dec" tag "b$i" || exit 1
    wait_tag "b$i"
    i=$((i + 1))
done
xpaget galpost job b1 | head -1
# "request K done: ... in T ms (gather G, compute C, publish P)": all but the first
sed -n 's/.*request \([0-9]*\)[^:]* done: .* in \([0-9.]*\) ms (gather \([0-9.]*\), compute \([0-9.]*\), publish \([0-9.]*\)).*/\1 \3 \4 \5 \2/p' "$WORK/gpd.log" |
    awk 'NR > 1 { for (c = 2; c <= 5; c++) v[c, n] = $c; n++ }
         function q(c, p,   i, j, t, a) { for (i = 0; i < n; i++) a[i] = v[c, i]
                                          for (i = 1; i < n; i++) for (j = i; j > 0 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                                          return a[int(p * (n - 1) + 0.5)] }
         END { split("gather compute publish total", nm, " ")
               for (c = 2; c <= 5; c++) printf "%s %.1f ms (%.1f-%.1f)%s", nm[c - 1], q(c, 0.5), q(c, 0.1), q(c, 0.9), c < 5 ? ", " : "\n"
               printf "requests measured: %d\n", n }'
xpaget galpost status | grep -E "^(ds9_headers|median_ms)" || true
