#!/bin/sh
# compare.sh: galpost and PyTorch side by side on the same model and inputs
# (design.md section 7; figures go to bench/RESULTS.md).
#
#   bench/compare.sh [--model FILE] [--build DIR] [--python PY] [--seconds S]
#                    [--threads T] [--repeat R]
#
# --model   weights file (default: a default-architecture random model from
#           `galpost model random`; speed does not depend on the values)
# --build   galpost build directory (default: build, next to bench/)
# --python  Python with torch and numpy (default: bench/.venv/bin/python when
#           present, else python3); see bench/README.md for the setup
# --seconds time per measurement (default 3)
# --threads threads for both (default 2)
# --repeat  rounds (default 3); each round measures galpost and every PyTorch
#           variant once, alternately, and the best round of each is shown
#           (max galaxies/s, min latency), so that the other jobs of a shared
#           machine cost each side as little as possible
#
# Prints, for galpost and PyTorch: (a) the encoder alone, batch 64;
# (b) the full pipeline, 100 samples per galaxy per flow, batch 64, with
# summaries; (c) one galaxy with 1,000 samples (median latency); the ratios;
# the fraction of cblas_sgemm 2048^3's GFLOP/s (measured in the same run)
# that galpost reaches on (a); and (d) galpost's peak resident memory with
# the model open after one click-sized inference.  PyTorch runs eagerly under
# torch.inference_mode() with torch.set_num_threads(T); it is measured
# as written (context concatenated per sample), both with OpenMP's default
# wait policy and with OMP_WAIT_POLICY=PASSIVE (on a loaded machine
# PyTorch's spinning OpenMP threads can cost it 10x; the better of the two
# is the "PyTorch" figure), and with the conditioners' first layer split
# like galpost's (--split-context, passive).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build="$top/build"
model=""
python=""
seconds=3
threads=2
repeat=3
while [ $# -gt 0 ]; do
    case "$1" in
    --model) model=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: bench/compare.sh [--model FILE] [--build DIR] [--python PY] [--seconds S] [--threads T] [--repeat R]" >&2; exit 2 ;;
    esac
done
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3; fi
fi
bench="$build/bench/gp_bench"
galpost="$build/galpost"
for p in "$bench" "$galpost"; do
    [ -x "$p" ] || { echo "compare.sh: $p not found: build galpost first (make -C $build bench/gp_bench)" >&2; exit 1; }
done
"$python" -c "import torch, numpy" 2>/dev/null ||
    { echo "compare.sh: $python cannot import torch and numpy: see bench/README.md for the setup" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gp_compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "$model" ]; then
    model="$tmp/model.gpw"
    "$galpost" model random "$model" --seed 1 >/dev/null
fi
"$python" -c "
import sys; sys.path.insert(0, '$here')
import torch_model as tm
tm.write_inputs('$tmp/inputs.bin', *tm.make_inputs(64, 1))"

step() { printf '%s\n' "$*" >&2; }
tm="$here/torch_model.py"
targs="--model $model --inputs $tmp/inputs.bin --threads $threads --seconds $seconds"
i=1
while [ "$i" -le "$repeat" ]; do
    step "compare.sh: round $i of $repeat: sgemm peak ..."
    "$bench" --peak --threads "$threads" --seconds "$seconds" --json > "$tmp/peak.$i.json"
    step "compare.sh: round $i of $repeat: galpost (a) (b) (c) ..."
    "$bench" --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --seconds "$seconds" --json > "$tmp/galpost.$i.json"
    step "compare.sh: round $i of $repeat: PyTorch ..."
    # shellcheck disable=SC2086
    "$python" "$tm" $targs > "$tmp/torch.$i.json"
    step "compare.sh: round $i of $repeat: PyTorch, OMP_WAIT_POLICY=PASSIVE ..."
    # shellcheck disable=SC2086
    OMP_WAIT_POLICY=PASSIVE "$python" "$tm" $targs > "$tmp/torchp.$i.json"
    step "compare.sh: round $i of $repeat: PyTorch with split conditioners ..."
    # shellcheck disable=SC2086
    OMP_WAIT_POLICY=PASSIVE "$python" "$tm" $targs --split-context > "$tmp/torchs.$i.json"
    i=$((i + 1))
done
step "compare.sh: galpost (d) memory ..."
"$bench" --memory --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --json > "$tmp/memory.json"

"$python" - "$tmp" "$model" <<'EOF'
import glob, json, os, platform, sys, time
d, model = sys.argv[1], sys.argv[2]
ld = lambda n: json.load(open(os.path.join(d, n)))
def best(prefix):
    runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, prefix + ".*.json")))]
    out = dict(runs[0])
    for k in ("encoder_gps", "pipeline_gps", "sgemm_peak_gflops", "encoder_gflops"):
        if k in out: out[k] = max(r[k] for r in runs)
    if "latency_ms" in out: out["latency_ms"] = min(r["latency_ms"] for r in runs)
    out["runs"] = len(runs)
    return out, runs
g, graw = best("galpost")
t0, _ = best("torch")
tp, _ = best("torchp")
ts, _ = best("torchs")
pk, pkraw = best("peak")
mem = ld("memory.json")
# PyTorch: the better of the default and the passive OpenMP wait policy, per measurement
t = dict(t0)
for k in ("encoder_gps", "pipeline_gps"):
    t[k] = max(t0[k], tp[k])
t["latency_ms"] = min(t0["latency_ms"], tp["latency_ms"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"machine: {cpu}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.2f}")
print(f"model: {model} ({mem['weights_mb']:.1f} MB); threads: {g['threads']} (galpost), {t['threads']} (PyTorch {t['torch']}, {t['blas']})")
def series(runs, key, fmt="{:.0f}"):
    return ", ".join(fmt.format(r[key]) for r in runs)
print(f"sgemm 2048^3 peak (cblas, {pk['threads']} threads): {pk['sgemm_peak_gflops']:.1f} GFLOP/s "
      f"(best of {pk['runs']}: {series(pkraw, 'sgemm_peak_gflops')})")
print(f"best of {g['runs']} rounds each; PyTorch = the better of OpenMP's default wait policy "
      f"(a {t0['encoder_gps']:.0f}, b {t0['pipeline_gps']:.0f} gal/s, c {t0['latency_ms']:.0f} ms) and PASSIVE "
      f"(a {tp['encoder_gps']:.0f}, b {tp['pipeline_gps']:.0f} gal/s, c {tp['latency_ms']:.0f} ms)")
print()
print(f"{'':44s} {'galpost':>10s} {'PyTorch':>10s} {'ratio':>7s} {'bar':>8s}  {'PyTorch split':>13s} {'ratio':>7s}")
def row(label, key, bar, lower_better=False, unit=""):
    a, b, c = g[key], t.get(key), ts.get(key)
    r = (b / a if lower_better else a / b) if b else float("nan")
    rs = (c / a if lower_better else a / c) if c else float("nan")
    ok = (a <= bar) if lower_better else (r >= bar)
    bs = (f"<={bar:g}{unit}" if lower_better else f">={bar:g}x") + (" ok" if ok else " MISS")
    cs = f"{c:13.1f}" if c else f"{'-':>13s}"
    print(f"{label:44s} {a:10.1f} {b if b else float('nan'):10.1f} {r:6.2f}x {bs:>8s}  {cs} {rs:6.2f}x")
row("(a) encoder alone, batch 64 [galaxies/s]", "encoder_gps", 2.5)
row("(b) pipeline, 100 samples, batch 64 [gal/s]", "pipeline_gps", 5.0)
row("(c) one galaxy, 1000 samples [ms, median]", "latency_ms", 20.0, lower_better=True, unit=" ms")
print()
frac = g["encoder_gflops"] / pk["sgemm_peak_gflops"]
print(f"galpost rounds: (a) {series(graw, 'encoder_gps')}; (b) {series(graw, 'pipeline_gps')}; "
      f"(c) {series(graw, 'latency_ms', '{:.1f}')}")
print(f"(a) galpost encoder: {g['encoder_gflops']:.1f} GFLOP/s ({g['encoder_mflop_per_galaxy']:.0f} MFLOP/galaxy) = {100 * frac:.0f}% of the sgemm peak")
print(f"(d) galpost peak RSS (open model + one galaxy x 1000 samples): {mem['vmhwm_mb']:.1f} MB; bar 2 x {mem['weights_mb']:.1f} + 64 = {mem['bar_mb']:.1f} MB {'ok' if mem['vmhwm_mb'] <= mem['bar_mb'] else 'MISS'}")
EOF
