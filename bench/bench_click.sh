#!/bin/sh
# bench_click.sh: the DS9 click latency of galpostd (the 200 ms bar of
# design.md section 7): a headless DS9 (Xvfb) with a mock SDSS field
# (galpost mock field, 2048x1489 frames), galpostd on the CPU backend,
# the 'Galaxy posteriors' analysis file, a circle selected on a galaxy,
# and bench/bench_click timing N runs of the 'Infer selected' task.
#
#   bench/bench_click.sh [N] [catalog|measured]   (from the build directory)
#
#   catalog   g, r, i frames loaded, colours from the field's photoObj
#   measured  g, r, i, u, z frames loaded, colours measured on them
#
# Model: $GALPOST_MODEL, else a random model of the default architecture
# (same cost as a trained one).  Everything is stopped at the end.
set -u
N=${1:-30}
MODE=${2:-catalog}
B=$(pwd)
S=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$B/galpostd" ] && [ -x "$B/bench/bench_click" ] || { echo "run from the build directory after make (bench/bench_click)"; exit 2; }
. "$S/bench/bench_ds9_lib.sh" bench_click
trap 'exit 1' INT TERM

model=${GALPOST_MODEL:-}
if [ -z "$model" ]; then "$B/galpost" model random "$WORK/model.gpw" --seed 1 >/dev/null; model=$WORK/model.gpw; fi
"$B/galpost" mock field -o "$WORK" --seed 5 >/dev/null || exit 1
photo=$(ls "$WORK"/photoObj-*.fits)
Xvfb -displayfd 9 -screen 0 1600x1200x24 -nolisten tcp 9>"$WORK/display" >/dev/null 2>&1 &
PIDS="$! $PIDS"
while [ ! -s "$WORK/display" ]; do sleep 0.05; done
export DISPLAY=:$(head -1 "$WORK/display")
ds9 -title bench -mode region -analysis load "$S/analysis/galpost.ans" >/dev/null 2>&1 &
PIDS="$! $PIDS"
until [ "$(xpaaccess -c -t 2,2 bench 2>/dev/null)" = yes ]; do sleep 0.3; done
cat_opt=""
[ "$MODE" = catalog ] && cat_opt="--catalog $photo"
"$B/galpostd" --model "$model" --backend cpu --ds9 bench --pidfile "$WORK/gpd.pid" --log "$WORK/gpd.log" $cat_opt || exit 1
PIDS="$(cat "$WORK/gpd.pid") $PIDS"
bands="g r i"
[ "$MODE" = measured ] && bands="g r i u z"
first=1
for b in $bands; do
    [ $first = 1 ] || xpaset -p bench frame new
    first=0
    xpaset -p bench fits "$(ls "$WORK"/frame-$b-*.fits)"
done
xpaset -p bench tile yes
xpaset -p bench frame 2
# a bright catalogue galaxy well inside the frames (DS9 converts: pan there)
[ "$MODE" = catalog ] || { xpaset -p galpost set catalog "$photo"; sleep 1; }
nx=$(xpaget bench fits width) ny=$(xpaget bench fits height)
xpaget galpost catalog 40 | sed 1d >"$WORK/catalog.txt"
ra=""
while read -r row gra gdec rest; do
    xpaset -p bench pan to "$gra" "$gdec" wcs icrs
    set -- $(xpaget bench pan image)
    if awk -v x="$1" -v y="$2" -v nx="$nx" -v ny="$ny" 'BEGIN { exit !(x > 150 && x < nx - 150 && y > 150 && y < ny - 150) }'; then
        ra=$gra dec=$gdec
        break
    fi
done <"$WORK/catalog.txt"
[ -n "$ra" ] || { echo "no galaxy inside the frames"; exit 1; }
[ "$MODE" = catalog ] || { xpaset -p galpost set catalog none; sleep 1; }
echo "icrs; circle($ra,$dec,8\")" | xpaset bench regions
xpaset -p bench regions selectall
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), mode $MODE ($bands frames), galaxy RA $ra Dec $dec"
"$B/bench/bench_click" bench "$N"
xpaget galpost status | grep -E "backend|median_ms"
