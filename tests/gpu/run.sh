#!/usr/bin/env bash
# tests/gpu/run.sh: verify and measure the CUDA backend on a machine with a GPU,
# and print a short table.
#
#   tests/gpu/run.sh               build here (./bootstrap, configure --with-cuda,
#                                  make, make check with the parity tests), then
#                                  measure: needs the build dependencies (.ci/deps)
#   tests/gpu/run.sh --pack DIR    on any machine with the build dependencies (no
#                                  GPU needed): build the GPU test and benchmark
#                                  programs (libgalpost linked in statically) and
#                                  the CUDA module (galpost-cuda.so), and copy them
#                                  with the libraries they need, CUDA's excepted,
#                                  into DIR (about 40 MB)
#   tests/gpu/run.sh --packed DIR  on a GPU machine without the build dependencies
#                                  (the lent H100/H200 image): run DIR's programs
#                                  against that machine's CUDA, cuBLAS and cuDNN
#   tests/gpu/run.sh --table DIR   print the table again from a results folder
#
# Steps: the fallback test; the CPU/GPU parity test (every operation, every model
# stage, gp_infer end to end, every training operation and a few training steps;
# float32 limits); the same comparisons with
# GP_CUDA_TF32=1, reported without limits (the accuracy cost of TF32);
# bench_gpu (galaxies/s of the full pipeline, 100 samples per galaxy per flow,
# batches 64 to 4096, float32 and TF32 from page-locked cutouts, float32 from
# pageable ones, and the CPU backend at batch 64, with stage profiles);
# bench_gpu --mode encoder (the encoder's stages per block size);
# bench_gpu --mode train (training steps: VAE at batch 64 in images/s, one
# flow-stage member at batch 256 in galaxies/s, CUDA float32 and CPU); the
# PyTorch port of the model on the same card when bench/torch_model.py exists
# and takes --device (the contract is written above its call below), with
# five paired rounds at batch 1024 (galpost and PyTorch float32 alternately:
# the ratio's median, PyTorch's figure moving ~15% between runs); then the
# table.  PyTorch runs at its default precision (TF32 in cuDNN convolutions)
# and in float32 throughout (--tf32 off); the ratios compare like precisions.
# GP_GPU_QUICK=1 skips the TF32 parity run, the encoder stages and the
# training steps (a rerun with little device time left).  Results go to $OUT
# (the device tool's folder) or ./gpu-results.  Exit status: 0 when the parity
# tests pass.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
mode=build
dir=
case "${1:-}" in
  --pack) mode=pack; dir=${2:?"--pack needs a directory"} ;;
  --packed) mode=packed; dir=${2:?"--packed needs a directory"} ;;
  --table) mode=table; dir=${2:?"--table needs a directory"} ;;
  "") ;;
  -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--pack DIR | --packed DIR | --table DIR]" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
say() { printf '\n=== %s  [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

# ------------------------------------------------------------------ table
print_table() {  # $1: results folder, $2: 0 when the parity tests passed
  local res=$1 fail=$2
  echo "galpost CUDA backend on $(tail -n +2 "$res/gpu.txt" 2>/dev/null | head -1), $(date -u '+%Y-%m-%d')"
  # (the worst of a kind is the one nearest its limit: limits differ per line)
  awk -v title="parity float32" -f - "$res/parity.txt" <<'AWK'
function cat_of(w) { return w ~ /^train step/ ? "train steps" : (w ~ /^train / ? "train ops" : (w ~ /^stage/ ? "stages" : (w ~ /^(gp_infer|GPU )/ ? "end to end" : "operations"))) }
/^parity / && /\(limit/ {
  n = split($0, f, / +/); st = f[n]; err = ""; lim = ""; w = ""
  for (i = 2; i <= n; i++) if (f[i] == "(limit") { err = f[i - 1]; lim = f[i + 1]; break } else if (i < n - 1) w = w (w == "" ? "" : " ") f[i]
  sub(/\)$/, "", lim)
  sub(/ [^ ]+$/, "", w); c = cat_of(w); tot++; if (st != "ok") bad++
  r = err !~ /^[0-9.e+-]+$/ ? 1e30 : (lim + 0 > 0 ? err / lim : (err + 0 > 0 ? 1e30 : 0))
  if (!(c in worst) || r > ratio[c]) { worst[c] = err; limit[c] = lim; ratio[c] = r; what[c] = w }
}
END {
  printf "%s: %d comparisons, %s\n", title, tot, tot == 0 ? "NONE RAN" : (bad ? bad " FAILED" : "all within limits")
  for (c in worst) printf "  worst %-11s %10s (limit %s)  %s\n", c, worst[c], limit[c], what[c]
}
AWK
  [ -f "$res/parity_tf32.txt" ] && awk -v title="parity TF32 (cost)" -f - "$res/parity_tf32.txt" <<'AWK'
function cat_of(w) { return w ~ /^train step/ ? "train steps" : (w ~ /^train / ? "train ops" : (w ~ /^stage/ ? "stages" : (w ~ /^(gp_infer|GPU )/ ? "end to end" : "operations"))) }
/^parity / && /\(limit/ {
  n = split($0, f, / +/); err = ""; w = ""
  for (i = 2; i <= n; i++) if (f[i] == "(limit") { err = f[i - 1]; break } else if (i < n - 1) w = w (w == "" ? "" : " ") f[i]
  sub(/ [^ ]+$/, "", w); c = cat_of(w); tot++
  if (!(c in worst) || err + 0 > worst[c] + 0) { worst[c] = err; what[c] = w }
}
END { printf "%s: %d comparisons\n", title, tot; for (c in worst) printf "  worst %-11s %10s  %s\n", c, worst[c], what[c] }
AWK
  echo "galaxies/s, full pipeline, 100 samples per galaxy per flow (% of the FP32 roofline):"
  echo "  (cutouts in page-locked memory for both, as gp_cutouts_alloc gives them; \"pageable\": galpost from malloc'd"
  echo "   cutouts; pytorch: its default precision, TF32 in convolutions, and float32 throughout; ratios same precision)"
  awk -F'\t' '
    $1 == "bench" { b[$3] = 1; v[$2, $3] = $5; r[$2, $3] = $6 }
    $1 == "torch" { b[$3] = 1; v["torch-" $2, $3] = $5 }
    function f0(key, k) { return ((key, k) in v) ? sprintf("%.0f", v[key, k]) : "-" }
    function ratio(a, bkey, k) { return ((a, k) in v) && ((bkey, k) in v) && v[bkey, k] > 0 ? sprintf("%.2fx", v[a, k] / v[bkey, k]) : "-" }
    END {
      printf "  %6s %16s %9s %16s %6s %9s %9s %11s %11s\n", "batch", "cuda float32", "pageable", "cuda TF32", "cpu",
             "torch f32", "torch def", "f32/f32", "TF32/def"
      nb = 0; for (k in b) bs[++nb] = k + 0
      for (i = 1; i <= nb; i++) for (j = i + 1; j <= nb; j++) if (bs[j] < bs[i]) { t = bs[i]; bs[i] = bs[j]; bs[j] = t }
      for (i = 1; i <= nb; i++) { k = bs[i]
        f = (("cuda", k) in v) ? sprintf("%.0f (%.1f%%)", v["cuda", k], r["cuda", k]) : "-"
        t = (("cuda-tf32", k) in v) ? sprintf("%.0f (%.1f%%)", v["cuda-tf32", k], r["cuda-tf32", k]) : "-"
        printf "  %6d %16s %9s %16s %6s %9s %9s %11s %11s\n", k, f, f0("cuda-pageable", k), t, f0("cpu", k),
               f0("torch-cuda-fp32", k), f0("torch-cuda", k), ratio("cuda", "torch-cuda-fp32", k), ratio("cuda-tf32", "torch-cuda", k) }
    }' "$res/bench.txt" "$res/torch.txt"
  grep -h '^# per galaxy\|^# roofline' "$res/bench.txt" | head -2 | sed 's/^# /  /'
  grep -h '^# gp_infer profile\|^# (pageable)\|^# blocks of\|^# chunks of\|^# one chunk\|^# element-wise' "$res/bench.txt" | sed 's/^# /  /'
  [ -f "$res/pairs.txt" ] && awk -F'\t' '
    $2 == "galpost" { g[$3] = $4 } $2 == "torch" { t[$3] = $4 }
    END {
      line = ""; n = 0
      for (r = 1; r <= 9; r++) if ((r in g) && (r in t) && t[r] > 0) { q[++n] = g[r] / t[r]; line = line sprintf("  %.0f/%.0f = %.2fx", g[r], t[r], q[n]) }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { x = q[i]; q[i] = q[j]; q[j] = x }
      med = n % 2 ? q[(n + 1) / 2] : 0.5 * (q[n / 2] + q[n / 2 + 1])
      printf "paired rounds at batch 1024, float32 (galpost/pytorch):%s%s\n", line, n ? sprintf("; median %.2fx", med) : " none ran"
    }' "$res/pairs.txt"
  echo "training steps (forward, backward, Adam), items/s (ms/step):"
  awk -F'\t' '
    $1 == "train" { k = $3 "\t" $4; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }; v[$2, k] = $5; ms[$2, k] = $6 }
    END {
      if (nk == 0) { print "  (none ran)"; exit }
      printf "  %-28s %22s %18s %20s %8s %10s\n", "stage", "cuda float32", "cpu", "pytorch eager", "vs cpu", "vs torch"
      for (i = 1; i <= nk; i++) { k = keys[i]; split(k, p, "\t")
        label = p[1] == "vae" ? "VAE, batch " p[2] " (images/s)" : "flow member, batch " p[2] " (gal/s)"
        g = (("cuda", k) in v) ? sprintf("%.1f (%.1f ms)", v["cuda", k], ms["cuda", k]) : "-"
        c = (("cpu", k) in v) ? sprintf("%.1f (%.0f ms)", v["cpu", k], ms["cpu", k]) : "-"
        q = (("cuda", k) in v) && (("cpu", k) in v) && v["cpu", k] > 0 ? sprintf("%.1fx", v["cuda", k] / v["cpu", k]) : "-"
        t = (("pytorch", k) in v) ? sprintf("%.1f (%.1f ms)", v["pytorch", k], ms["pytorch", k]) : "-"
        r = (("cuda", k) in v) && (("pytorch", k) in v) && v["pytorch", k] > 0 ? sprintf("%.2fx", v["cuda", k] / v["pytorch", k]) : "-"
        printf "  %-28s %22s %18s %20s %8s %10s\n", label, g, c, t, q, r }
    }' "$res/train.txt" 2>/dev/null
  [ $fail -eq 0 ] && echo "RESULT: parity passed" || echo "RESULT: FAILED (see $res)"
}

if [ "$mode" = table ]; then
  f=0; grep -q "^parity .*FAIL$" "$dir/parity.txt" 2>/dev/null && f=1
  grep -q "^parity .*(limit" "$dir/parity.txt" 2>/dev/null || f=1
  print_table "$dir" $f
  exit $f
fi

# ------------------------------------------------------------------ pack
if [ "$mode" = pack ]; then
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || exit 1
  b="$top/build-gpu-pack"
  say "building the GPU programs in $b"
  ( cd "$top" && { [ -x configure ] || ./bootstrap; } ) || exit 1
  mkdir -p "$b" && cd "$b" || exit 1
  # the CUDA backend is a shared module; the programs take libgalpost.a (-static)
  "$top/configure" -q --with-cuda --enable-static || exit 1
  progs="tests/gpu/test_gpu_parity tests/gpu/test_cuda_fallback tests/gpu/test_cuda_elem bench/bench_gpu"
  { make -j"$jobs" cuda/galpost-cuda.la && make -j"$jobs" LDFLAGS=-static $progs; } >make.log 2>&1 \
    || { tail -30 make.log; exit 1; }
  rm -rf "$dir/bin" "$dir/lib"
  mkdir -p "$dir/bin" "$dir/lib"
  cp $progs "$dir/bin/" && cp cuda/.libs/galpost-cuda.so "$dir/lib/" || exit 1
  for lib in $(ldd $progs cuda/.libs/galpost-cuda.so | awk '/=>/ && $3 ~ /^\// {print $3}' | sort -u); do
    case $(basename "$lib") in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++*|libgcc_s*) ;;
      libcuda*|libcudart*|libcublas*|libcudnn*|libnvrtc*|libnvJitLink*) ;;   # the GPU machine's own
      *) cp -L "$lib" "$dir/lib/" ;;
    esac
  done
  { echo "packed $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname) from $(git -C "$top" describe --always --dirty 2>/dev/null)"
    echo "nvcc: $(grep '^NVCC =' Makefile | cut -d= -f2-)"; echo "NVCCFLAGS: $(grep '^NVCCFLAGS =' Makefile | cut -d= -f2-)"; } >"$dir/INFO"
  say "packed into $dir ($(du -sh "$dir" | cut -f1)); on the GPU machine run: tests/gpu/run.sh --packed ${2}"
  exit 0
fi

res=${OUT:-$top/gpu-results}
mkdir -p "$res" || exit 1
rm -f "$res/pairs.txt"   # (appended to, round by round)
fail=0

# ------------------------------------------------------- build or locate
if [ "$mode" = build ]; then
  b="$top/build-gpu"
  say "building in $b (configure --with-cuda)"
  ( cd "$top" && ./bootstrap >/dev/null ) || exit 1
  mkdir -p "$b" && cd "$b" || exit 1
  "$top/configure" -q --with-cuda || exit 1
  make -j"$jobs" >make.log 2>&1 || { tail -30 make.log; exit 1; }
  say "make check (all tests, the GPU parity test included)"
  make -j"$jobs" check >check.log 2>&1 || fail=1
  grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS)' check.log
  cp tests/gpu/test_gpu_parity.log "$res/parity.txt" 2>/dev/null
  grep -q '^SKIP: tests/gpu/test_gpu_parity' check.log && { echo "the parity test skipped: no usable GPU"; fail=1; }
  bin_parity=tests/gpu/test_gpu_parity bin_bench=bench/bench_gpu
  export GALPOST_CUDA_MODULE="$b/cuda/.libs/galpost-cuda.so"  # the build's, not an installed one
else
  dir=$(cd "$dir" && pwd) || exit 1
  cat "$dir/INFO" 2>/dev/null
  # the GPU machine's CUDA libraries: the toolkit's, then the Python wheels'
  extra=
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib \
           $(python3 -c 'import site, glob; print(" ".join(sorted({d for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")})))' 2>/dev/null); do
    [ -d "$d" ] && extra="$extra:$d"
  done
  export LD_LIBRARY_PATH="$dir/lib$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export GALPOST_CUDA_MODULE="$dir/lib/galpost-cuda.so"
  if ldd "$dir/bin/test_gpu_parity" "$GALPOST_CUDA_MODULE" | grep 'not found'; then
    echo "libraries missing (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"; exit 1
  fi
  cd "$res" || exit 1
  say "fallback and kernel-body tests"
  "$dir/bin/test_cuda_elem" >/dev/null 2>&1 && echo "test_cuda_elem: ok" || { echo "test_cuda_elem: FAILED"; fail=1; }
  "$dir/bin/test_cuda_fallback" 2>&1 | tail -3
  [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
  say "parity test (float32)"
  GP_CUDA_LOG_PLANS=1 "$dir/bin/test_gpu_parity" >"$res/parity.txt" 2>&1
  rc=$?
  [ $rc -eq 0 ] || { echo "parity test exit status $rc"; fail=1; }
  bin_parity=$dir/bin/test_gpu_parity bin_bench=$dir/bin/bench_gpu
fi
grep -E 'FAIL|skipped|ERROR' "$res/parity.txt" | head -20

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$res/gpu.txt" 2>&1 || true
# GP_GPU_QUICK=1 (a rerun with little device time left): no TF32 parity, encoder
# stages or training steps
quick=${GP_GPU_QUICK:-0}
if [ "$quick" != 1 ]; then
  say "parity with GP_CUDA_TF32=1 (measured, no limits)"
  GP_CUDA_TF32=1 GP_PARITY_MEASURE_ONLY=1 "$bin_parity" >"$res/parity_tf32.txt" 2>&1 || echo "TF32 parity run: exit status $?"
fi

say "benchmark: full pipeline, 100 samples per galaxy per flow"
{ "$bin_bench" --backend cuda --batch 64,256,1024,4096 --samples 100 --seconds 2
  "$bin_bench" --backend cuda --batch 64,1024,4096 --samples 100 --seconds 2 --host pageable
  GP_CUDA_TF32=1 "$bin_bench" --backend cuda --batch 64,256,1024,4096 --samples 100 --seconds 2 | sed 's/^bench\tcuda/bench\tcuda-tf32/'
  "$bin_bench" --backend cpu --batch 64 --samples 100 --seconds 2
  # upload/encoder blocks of 512 instead of a quarter chunk (GP_INFER_BLOCK); chunks of 2048 instead of 1024;
  # a batch of 1024 as one chunk instead of 512 + 384 + 128 (GP_INFER_SPLIT=0)
  GP_INFER_BLOCK=512 "$bin_bench" --backend cuda --batch 1024,4096 --samples 100 --seconds 2 | grep '^bench' | sed "s/^bench/# blocks of 512:/"
  if [ "$quick" != 1 ]; then
    GP_INFER_BLOCK=128 "$bin_bench" --backend cuda --batch 1024 --samples 100 --seconds 2 | grep '^bench' | sed "s/^bench/# blocks of 128:/"
    GP_CUDA_CHUNK=2048 "$bin_bench" --backend cuda --batch 4096 --samples 100 --seconds 2 | grep '^bench' | sed 's/^bench/# chunks of 2048:/'
  fi
  # bias/activation and the stretch as element-wise kernels (one 64-bit division
  # an element) instead of one block a plane
  GP_CUDA_ELEM=generic "$bin_bench" --backend cuda --batch 1024,4096 --samples 100 --seconds 2 | grep '^bench' | sed 's/^bench/# element-wise bias and stretch:/'
  GP_INFER_SPLIT=0 "$bin_bench" --backend cuda --batch 1024 --samples 100 --seconds 2 | grep '^bench' | sed 's/^bench/# one chunk (no split):/'
  # batches of 1024 and 4096 in chunks of at most 256 (the summaries of each chunk run
  # beside the next chunk's GPU work, so smaller chunks leave less of them at the end)
  GP_INFER_CHUNK=256 "$bin_bench" --backend cuda --batch 1024,4096 --samples 100 --seconds 2 | grep '^bench' | sed 's/^bench/# chunks of 256:/'
  # where the time goes (stages synchronized: a little slower than above)
  for B in 64 1024 4096; do
    GP_INFER_PROFILE=1 "$bin_bench" --backend cuda --batch $B --samples 100 --seconds 1 2>&1 | grep '^gp_infer profile' | tail -1 | sed 's/^/# /'
  done
  GP_INFER_PROFILE=1 "$bin_bench" --backend cuda --batch 4096 --samples 100 --seconds 1 --host pageable 2>&1 | grep '^gp_infer profile' | tail -1 | sed 's/^/# (pageable) /'
} >"$res/bench.txt" 2>&1
grep -v '^bench' "$res/bench.txt"

[ "$quick" = 1 ] || {
say "encoder stages (one block at a time, each stage synchronized)"
{ echo "## float32, algorithms timed (cudnnFind)"
  "$bin_bench" --mode encoder --backend cuda --batch 128,512,2048 --seconds 1
  echo "## TF32"
  GP_CUDA_TF32=1 "$bin_bench" --mode encoder --backend cuda --batch 128,2048 --seconds 1 | sed 's/^encoder/encoder-tf32/'
  echo "## float32, algorithms by cuDNN's heuristics"
  GP_CUDA_CONV_ALGO=heuristic "$bin_bench" --mode encoder --backend cuda --batch 128 --seconds 1 | sed 's/^encoder/encoder-heuristic/'
} >"$res/encoder.txt" 2>&1
grep -v '^encoder' "$res/encoder.txt"

say "benchmark: training steps (VAE batch 64, flow member batch 256)"
{ "$bin_bench" --mode train --backend cuda --vae-batch 64 --flow-batch 256 --seconds 2
  "$bin_bench" --mode train --backend cpu --vae-batch 64 --flow-batch 256 --seconds 2
} >"$res/train.txt" 2>&1
grep -v '^train' "$res/train.txt"
}

# The PyTorch port (bench/torch_model.py, written for the CPU comparison) on the
# same card, on the same model file and inputs.  Contract: it takes --device
# cuda, --model FILE, --inputs FILE (bench/torch_model.py write_inputs format),
# --seconds S and, if it has one, --batch B; it prints either lines
# "torch<TAB>cuda<TAB>batch<TAB>samples<TAB>galaxies/s" or one JSON object with
# "pipeline_gps" (and "batch", default 64).
tp="$top/bench/torch_model.py"
if [ -f "$tp" ] && grep -q -- '--device' "$tp"; then
  say "PyTorch eager, same model, same card"
  tmpd=$(mktemp -d)
  "$bin_bench" --backend cpu --batch 1 --samples 2 --seconds 0.01 --save-model "$tmpd/model.gpw" >/dev/null 2>&1
  tb="64"; grep -q -- '--batch' "$tp" && tb="64 256 1024 4096"
  maxb=${tb##* }
  ( cd "$top/bench" && PYTHONUNBUFFERED=1 python3 -c "import sys; import torch_model as t; t.write_inputs(sys.argv[1], *t.make_inputs(int(sys.argv[2])))" \
      "$tmpd/inputs.bin" "$maxb" ) >"$res/torch.txt" 2>&1
  # PyTorch's default precision (TF32 in cuDNN convolutions) and float32
  # throughout (--tf32 off, galpost's default), where the script has --tf32
  modes=default; grep -q -- '--tf32' "$tp" && modes="default off"
  for mode in $modes; do
   for B in $tb; do
    bopt=; [ "$tb" = 64 ] || bopt="--batch $B"
    topt=; [ "$modes" = default ] || topt="--tf32 $mode"
    ( cd "$top" && PYTHONUNBUFFERED=1 timeout 240 python3 bench/torch_model.py --device cuda --model "$tmpd/model.gpw" \
        --inputs "$tmpd/inputs.bin" --seconds 2 $bopt $topt ) >"$tmpd/out" 2>&1 || echo "bench/torch_model.py batch $B ($mode): exit status $?" >>"$res/torch.txt"
    cat "$tmpd/out" >>"$res/torch.txt"
    python3 -c "
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith('{'):
        d = json.loads(line)
        if 'pipeline_gps' in d: print('torch\t%s\t%d\t100\t%.1f' % ('cuda' if sys.argv[3] == 'default' else 'cuda-fp32', d.get('batch', int(sys.argv[2])), d['pipeline_gps']))" "$tmpd/out" "$B" "$mode" >>"$res/torch.txt" 2>/dev/null
   done
  done
  # Paired rounds at batch 1024, where the ratio sits near the target and
  # PyTorch's own figure moved 30.2k-34.7k galaxies/s between runs: galpost
  # float32 and PyTorch float32 alternately, five times, each ratio from
  # neighbouring measurements; the table prints them and their median
  if grep -q -- '--tf32' "$tp" && grep -q -- '--batch' "$tp"; then
    for round in 1 2 3 4 5; do
      "$bin_bench" --backend cuda --batch 1024 --samples 100 --seconds 2 2>/dev/null \
        | awk -F'\t' -v r=$round '$1 == "bench" { printf "pair\tgalpost\t%d\t%s\n", r, $5 }' >>"$res/pairs.txt"
      ( cd "$top" && PYTHONUNBUFFERED=1 timeout 120 python3 bench/torch_model.py --device cuda --model "$tmpd/model.gpw" \
          --inputs "$tmpd/inputs.bin" --seconds 2 --batch 1024 --tf32 off ) 2>/dev/null \
        | python3 -c "
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith('{') and 'pipeline_gps' in line:
        print('pair\ttorch\t%s\t%.1f' % (sys.argv[1], json.loads(line)['pipeline_gps']))" $round >>"$res/pairs.txt"
    done
  fi
  # training steps, bench_gpu --mode train's definition (torch_model.py --train)
  if [ "$quick" != 1 ] && grep -q -- '--train' "$tp"; then
    ( cd "$top" && PYTHONUNBUFFERED=1 timeout 120 python3 bench/torch_model.py --device cuda --model "$tmpd/model.gpw" \
        --train --vae-batch 64 --flow-batch 256 --seconds 2 ) >>"$res/train.txt" 2>&1 \
      || echo "bench/torch_model.py --train: exit status $?" >>"$res/train.txt"
    grep '^train.pytorch' "$res/train.txt"
  fi
  rm -rf "$tmpd"
  tail -15 "$res/torch.txt"
elif [ -f "$tp" ]; then
  echo "bench/torch_model.py has no --device option (CPU only): no PyTorch comparison on the GPU" | tee "$res/torch.txt"
else
  echo "bench/torch_model.py absent: no PyTorch comparison" | tee "$res/torch.txt"
fi

print_table "$res" $fail | tee "$res/table.txt"
exit $fail
