#!/bin/sh
# compare.sh: galpost and PyTorch side by side on the same model and inputs
# (design.md section 7; figures go to bench/RESULTS.md).
#
#   bench/compare.sh [--model FILE] [--build DIR] [--python PY] [--seconds S]
#                    [--threads T]
#
# --model   weights file (default: a default-architecture random model from
#           `galpost model random`; speed does not depend on the values)
# --build   galpost build directory (default: build, next to bench/)
# --python  Python with torch and numpy (default: bench/.venv/bin/python when
#           present, else python3); see bench/README.md for the setup
# --seconds time per measurement (default 3)
# --threads threads for both (default 2)
#
# Prints, for galpost and PyTorch: (a) the encoder alone, batch 64;
# (b) the full pipeline, 100 samples per galaxy per flow, batch 64, with
# summaries; (c) one galaxy with 1,000 samples (median latency); the ratios;
# the fraction of cblas_sgemm 2048^3's GFLOP/s (measured in the same run)
# that galpost reaches on (a); and (d) galpost's peak resident memory with
# the model open after one click-sized inference.  PyTorch runs eagerly under
# torch.inference_mode() with torch.set_num_threads(T); it is measured
# twice: as written (context concatenated per sample) and with the
# conditioners' first layer split like galpost's (--split-context).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build="$top/build"
model=""
python=""
seconds=3
threads=2
while [ $# -gt 0 ]; do
    case "$1" in
    --model) model=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: bench/compare.sh [--model FILE] [--build DIR] [--python PY] [--seconds S] [--threads T]" >&2; exit 2 ;;
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
step "compare.sh: sgemm peak ($threads threads) ..."
"$bench" --peak --threads "$threads" --seconds "$seconds" --json > "$tmp/peak.json"
step "compare.sh: galpost (a) (b) (c) ..."
"$bench" --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --seconds "$seconds" --json > "$tmp/galpost.json"
step "compare.sh: galpost (d) memory ..."
"$bench" --memory --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --json > "$tmp/memory.json"
step "compare.sh: PyTorch (a) (b) (c) ..."
"$python" "$here/torch_model.py" --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --seconds "$seconds" > "$tmp/torch.json"
step "compare.sh: PyTorch with split conditioners (b) (c) ..."
"$python" "$here/torch_model.py" --model "$model" --inputs "$tmp/inputs.bin" --threads "$threads" --seconds "$seconds" --split-context > "$tmp/torch_split.json"

"$python" - "$tmp" "$model" <<'EOF'
import json, os, platform, sys, time
d, model = sys.argv[1], sys.argv[2]
ld = lambda n: json.load(open(os.path.join(d, n)))
g, t, ts, pk, mem = ld("galpost.json"), ld("torch.json"), ld("torch_split.json"), ld("peak.json"), ld("memory.json")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"machine: {cpu}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.2f}")
print(f"model: {model} ({mem['weights_mb']:.1f} MB); threads: {g['threads']} (galpost), {t['threads']} (PyTorch {t['torch']}, {t['blas']})")
print(f"sgemm 2048^3 peak (cblas, {pk['threads']} threads): {pk['sgemm_peak_gflops']:.1f} GFLOP/s")
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
print(f"(a) galpost encoder: {g['encoder_gflops']:.1f} GFLOP/s ({g['encoder_mflop_per_galaxy']:.0f} MFLOP/galaxy) = {100 * frac:.0f}% of the sgemm peak")
print(f"(d) galpost peak RSS (open model + one galaxy x 1000 samples): {mem['vmhwm_mb']:.1f} MB; bar 2 x {mem['weights_mb']:.1f} + 64 = {mem['bar_mb']:.1f} MB {'ok' if mem['vmhwm_mb'] <= mem['bar_mb'] else 'MISS'}")
EOF
