#!/usr/bin/env bash
# Runs the twins, the PyTorch one (bench/torch_vae.py) and the libtorch one
# (bench/torch_vae.cpp, built as libtorch_vae where libtorch-dev is
# installed), then mnist_vae, one after the other on the same data, model
# (--arch mlp|conv), thread count and batch size, and prints the seconds of
# every epoch for each and, per twin, the ratio of the epoch medians (issue
# 7's target: mnist_vae <= 1/3 of the twin at 2 threads, batch 128; issue
# 20's for --arch conv). A twin that is missing is skipped with a message.
#
#   bench/compare.sh [--arch mlp|conv] [--mnist-vae PATH] [--libtorch PATH]
#                    [--epochs N] [--threads T] [--batch B] [--data DIR]
#                    [--limit N] [--out DIR] [--precision fp32|bf16]
#
# --libtorch defaults to libtorch_vae in bench/ of mnist_vae's build folder,
# else in build-perf/bench/ or build/bench/.
#
# The twins run with OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(T):
# with OpenBLAS's own threads on, they and PyTorch's oversubscribe the cores.
# OMP_WAIT_POLICY is left to libgomp's default (spinning), the twin's fastest
# setting on a quiet machine (2.3 s per epoch here against 4.5 s with
# PASSIVE). On a loaded machine the spinning threads make it 5-20x slower;
# set TWIN_OMP_WAIT_POLICY=PASSIVE there (see bench/RESULTS.md). Needs
# Debian's python3-torch for the PyTorch twin and libtorch-dev for the other;
# without either twin this script says so and exits 0.
#
# The twins run in their fastest setting (issue 24): OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for their commands alone, since forcing an older
# kernel (OPENBLAS_CORETYPE=Haswell on an AVX-512 machine) made the PyTorch
# twin 1.4x slower in issue 24's runs and flattered the ratio; each twin
# prints the BLAS library and kernel it loaded. Where OpenBLAS does not know
# the CPU and falls back to an SSE kernel (Prescott), the twins get the newest
# kernel the CPU's flags allow instead (TWIN_OPENBLAS_CORETYPE overrides).
#
# --precision bf16 (issue 24) runs the PyTorch twin under
# torch.autocast("cpu", bfloat16), the libtorch twin in fp32 (what a C++
# user gets), and mnist_vae twice, in fp32 and then in --precision bf16, so
# that the bf16 epoch is measured against the fp32 one of the same run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arch=mlp
mnist_vae=""
libtorch=""
epochs=3
threads=2
batch=128
data=/usr/share/datasets/fashion-mnist
limit=0
out=""
precision=fp32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --mnist-vae) mnist_vae=$2; shift 2 ;;
    --libtorch) libtorch=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$precision" in
  fp32|bf16) ;;
  *) echo "compare.sh: --precision: expected fp32 or bf16, got '$precision'" >&2; exit 2 ;;
esac
case "$arch" in
  mlp|conv) ;;
  *) echo "compare.sh: --arch: expected mlp or conv, got '$arch'" >&2; exit 2 ;;
esac

# A Python that has torch: $PYTHON, else python3 on PATH, else Debian's own.
python=""
for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
  [[ -n "$candidate" ]] || continue
  if command -v "$candidate" > /dev/null 2>&1 && "$candidate" -c 'import torch' > /dev/null 2>&1; then
    python=$candidate
    break
  fi
done

if [[ -z "$mnist_vae" ]]; then
  for candidate in "$here"/../build-perf/examples/mnist_vae "$here"/../build/examples/mnist_vae; do
    if [[ -x "$candidate" ]]; then mnist_vae=$candidate; break; fi
  done
fi
if [[ -z "$mnist_vae" || ! -x "$mnist_vae" ]]; then
  echo "compare.sh: no mnist_vae executable; build it and pass --mnist-vae PATH" >&2
  exit 1
fi
if [[ -n "$libtorch" && ! -x "$libtorch" ]]; then
  echo "compare.sh: --libtorch $libtorch: no such executable" >&2
  exit 1
fi
if [[ -z "$libtorch" ]]; then
  for candidate in "$(dirname "$mnist_vae")"/../bench/libtorch_vae \
                   "$here"/../build-perf/bench/libtorch_vae "$here"/../build/bench/libtorch_vae; do
    if [[ -x "$candidate" ]]; then libtorch=$candidate; break; fi
  done
fi

[[ -n "$python" ]] || echo "compare.sh: PyTorch is not installed (Debian: apt-get install python3-torch); skipping the PyTorch twin"
[[ -n "$libtorch" ]] || echo "compare.sh: no libtorch_vae (bench/ builds it where libtorch-dev is installed; or pass --libtorch PATH); skipping the libtorch twin"
if [[ -z "$python" && -z "$libtorch" ]]; then
  echo "compare.sh: no twin to compare with; skipping the comparison"
  exit 0
fi

[[ -n "$out" ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/scvae_compare.XXXXXX")
mkdir -p "$out/scvae"
common=(--arch "$arch" --data "$data" --epochs "$epochs" --batch "$batch" --threads "$threads" --limit "$limit")

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
# The twins' environment: their fastest BLAS kernel (see the top of this file).
twin_env=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1)
[[ -z "${TWIN_OMP_WAIT_POLICY:-}" ]] || twin_env+=(OMP_WAIT_POLICY="$TWIN_OMP_WAIT_POLICY")
for variable in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  [[ -z "${!variable:-}" ]] || echo "         $variable=${!variable} is unset for the twins (their fastest kernel)"
done
# OpenBLAS picks its kernel from the CPU's model number. A CPU newer than the
# library (Debian 12's OpenBLAS 0.3.21 on an Intel Xeon of model 207) gets the
# SSE3 kernel Prescott, and the PyTorch twin took 11-12 s per epoch instead of
# 2.8-3.0 s on SkylakeX (bench/RESULTS.md): then the twins get the newest
# kernel the CPU's flags allow. TWIN_OPENBLAS_CORETYPE sets one by hand.
if [[ -n "${TWIN_OPENBLAS_CORETYPE:-}" ]]; then
  twin_env+=(OPENBLAS_CORETYPE="$TWIN_OPENBLAS_CORETYPE")
elif [[ -n "$python" ]]; then
  kernel=$(env "${twin_env[@]}" "$python" "$here/torch_vae.py" --blas-kernel 2> /dev/null || true)
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2> /dev/null | cut -d: -f2) "
  best=""
  if [[ $flags == *" avx512_bf16 "* ]]; then best=Cooperlake
  elif [[ $flags == *" avx512f "* && $flags == *" avx512vl "* ]]; then best=SkylakeX
  elif [[ $flags == *" avx2 "* && $flags == *" fma "* ]]; then best=Haswell
  fi
  case "$kernel" in
    none)
      echo "         the PyTorch twin's BLAS is not OpenBLAS (Debian's reference BLAS ran it 20x slower: apt-get install libopenblas0-pthread)"
      ;;
    Prescott | Core2 | Penryn | Dunnington | Nehalem | Atom | Katmai | Coppermine | Northwood | Banias)
      if [[ -n "$best" ]]; then
        echo "         OpenBLAS picked the $kernel kernel on a CPU with ${best}'s instructions; the twins run OPENBLAS_CORETYPE=$best"
        twin_env+=(OPENBLAS_CORETYPE="$best")
      fi
      ;;
  esac
fi
echo "twins' environment: env ${twin_env[*]}"
runs=()  # name=metrics path, the twins first and scvae last
if [[ -n "$python" ]]; then
  mkdir -p "$out/pytorch"
  echo "pytorch: $python $here/torch_vae.py ${common[*]} --precision $precision"
  echo "         torch $("$python" -c 'import torch; print(torch.__version__)')"
  env "${twin_env[@]}" "$python" "$here/torch_vae.py" "${common[@]}" --precision "$precision" \
    --quiet --out "$out/pytorch"
  runs+=("pytorch=$out/pytorch/metrics.jsonl")
fi
if [[ -n "$libtorch" ]]; then
  mkdir -p "$out/libtorch"
  echo "libtorch: $libtorch ${common[*]}"
  env "${twin_env[@]}" "$libtorch" "${common[@]}" --quiet --out "$out/libtorch"
  runs+=("libtorch=$out/libtorch/metrics.jsonl")
fi
if [[ $precision == bf16 ]]; then
  mkdir -p "$out/scvae-fp32"
  echo "scvae:   $mnist_vae ${common[*]} --precision fp32"
  "$mnist_vae" "${common[@]}" --precision fp32 --quiet --out "$out/scvae-fp32"
  runs+=("scvae-fp32=$out/scvae-fp32/metrics.jsonl")
fi
echo "scvae:   $mnist_vae ${common[*]} --precision $precision"
"$mnist_vae" "${common[@]}" --precision "$precision" --quiet --out "$out/scvae"
runs+=("scvae=$out/scvae/metrics.jsonl")
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); metrics in $out"

# The report needs no torch: any python3 does.
"${python:-python3}" - "${runs[@]}" <<'EOF'
import json, statistics, sys
names, runs = [], []
for argument in sys.argv[1:]:
    name, path = argument.split("=", 1)
    names.append(name)
    runs.append([json.loads(line) for line in open(path)])
print(f"{'epoch':>6} " + " ".join(f"{name + ' s':>10}" for name in names) + " "
      + " ".join(f"{name + ' test_loss':>19}" for name in names))
for records in zip(*runs):
    print(f"{records[0]['epoch']:>6} " + " ".join(f"{r['train_seconds']:>10.3f}" for r in records)
          + " " + " ".join(f"{r['test_loss']:>19.2f}" for r in records))
medians = [statistics.median(r["train_seconds"] for r in run) for run in runs]
print(f"{'median':>6} " + " ".join(f"{m:>10.3f}" for m in medians))
scvae = medians[-1]
for name, twin in zip(names[:-1], medians[:-1]):
    print(f"{name}/scvae = {twin / scvae:.2f} (epoch medians; scvae/{name} = {scvae / twin:.3f}, "
          f"target <= 0.333)")
EOF
