#!/usr/bin/env bash
# Runs the PyTorch twin (bench/torch_vae.py) and mnist_vae one after the other
# on the same data, model (--arch mlp|conv), thread count and batch size, and
# prints the seconds of every epoch for both and the ratio of their medians
# (issue 7's target: mnist_vae <= 1/3 of the twin at 2 threads, batch 128;
# issue 20's for --arch conv).
#
#   bench/compare.sh [--arch mlp|conv] [--mnist-vae PATH] [--epochs N]
#                    [--threads T] [--batch B] [--data DIR] [--limit N]
#                    [--out DIR]
#
# The twin runs with OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(T): with
# OpenBLAS's own threads on, they and PyTorch's oversubscribe the cores.
# OMP_WAIT_POLICY is left to libgomp's default (spinning), the twin's fastest
# setting on a quiet machine (2.3 s per epoch here against 4.5 s with
# PASSIVE). On a loaded machine the spinning threads make it 5-20x slower;
# set TWIN_OMP_WAIT_POLICY=PASSIVE there (see bench/RESULTS.md). Needs
# Debian's python3-torch; without it this script says so and exits 0.
#
# The twin runs in its fastest setting (issue 24): OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for its command alone, since forcing an older
# kernel (OPENBLAS_CORETYPE=Haswell on an AVX-512 machine) made it 1.4x slower
# in issue 24's runs and flattered the ratio; it prints the BLAS library and
# kernel it loaded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arch=mlp
mnist_vae=""
epochs=3
threads=2
batch=128
data=/usr/share/datasets/fashion-mnist
limit=0
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --mnist-vae) mnist_vae=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
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
if [[ -z "$python" ]]; then
  echo "compare.sh: PyTorch is not installed (Debian: apt-get install python3-torch); skipping the comparison"
  exit 0
fi

if [[ -z "$mnist_vae" ]]; then
  for candidate in "$here"/../build-perf/examples/mnist_vae "$here"/../build/examples/mnist_vae; do
    if [[ -x "$candidate" ]]; then mnist_vae=$candidate; break; fi
  done
fi
if [[ -z "$mnist_vae" || ! -x "$mnist_vae" ]]; then
  echo "compare.sh: no mnist_vae executable; build it and pass --mnist-vae PATH" >&2
  exit 1
fi

[[ -n "$out" ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/scvae_compare.XXXXXX")
mkdir -p "$out/torch" "$out/scvae"
common=(--arch "$arch" --data "$data" --epochs "$epochs" --batch "$batch" --threads "$threads" --limit "$limit")

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "twin:    $python $here/torch_vae.py ${common[*]}"
# The twins' environment: their fastest BLAS kernel (see the top of this file).
twin_env=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1)
[[ -z "${TWIN_OMP_WAIT_POLICY:-}" ]] || twin_env+=(OMP_WAIT_POLICY="$TWIN_OMP_WAIT_POLICY")
for variable in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  [[ -z "${!variable:-}" ]] || echo "         $variable=${!variable} is unset for the twin (its fastest kernel)"
done
echo "         torch $("$python" -c 'import torch; print(torch.__version__)'), env ${twin_env[*]}"
env "${twin_env[@]}" "$python" "$here/torch_vae.py" "${common[@]}" --quiet --out "$out/torch"
echo "scvae:   $mnist_vae ${common[*]}"
"$mnist_vae" "${common[@]}" --quiet --out "$out/scvae"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); metrics in $out"

"$python" - "$out/torch/metrics.jsonl" "$out/scvae/metrics.jsonl" <<'EOF'
import json, statistics, sys
runs = [[json.loads(line) for line in open(path)] for path in sys.argv[1:3]]
torch_runs, scvae_runs = runs
print(f"{'epoch':>5} {'torch s':>9} {'scvae s':>9} {'ratio':>7} {'torch test_loss':>16} {'scvae test_loss':>16}")
for t, s in zip(torch_runs, scvae_runs):
    print(f"{t['epoch']:>5} {t['train_seconds']:>9.3f} {s['train_seconds']:>9.3f} "
          f"{s['train_seconds'] / t['train_seconds']:>7.3f} {t['test_loss']:>16.2f} {s['test_loss']:>16.2f}")
mt = statistics.median(r["train_seconds"] for r in torch_runs)
ms = statistics.median(r["train_seconds"] for r in scvae_runs)
print(f"median  {mt:>9.3f} {ms:>9.3f} {ms / mt:>7.3f}   scvae/torch = {ms / mt:.3f} "
      f"(torch is {mt / ms:.2f}x slower; target: ratio <= 0.333)")
EOF
