#!/usr/bin/env bash
# Scaling of mnist_vae's train_seconds for one epoch over thread counts and
# batch sizes: the median of --runs runs of `mnist_vae --epochs 1` per cell,
# with samples/s and the speed-up of 2 threads over 1.
#
#   bench/scaling.sh [--mnist-vae PATH] [--runs 3] [--batches "32 64 128 256 512 1024"]
#                    [--threads "1 2"] [--data DIR]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mnist_vae=""
runs=3
batches="32 64 128 256 512 1024"
thread_counts="1 2"
data=/usr/share/datasets/fashion-mnist
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mnist-vae) mnist_vae=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) thread_counts=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$mnist_vae" ]]; then
  for candidate in "$here"/../build-perf/examples/mnist_vae "$here"/../build/examples/mnist_vae; do
    if [[ -x "$candidate" ]]; then mnist_vae=$candidate; break; fi
  done
fi
[[ -n "$mnist_vae" && -x "$mnist_vae" ]] || { echo "scaling.sh: pass --mnist-vae PATH" >&2; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/scvae_scaling.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$mnist_vae --epochs 1 --batch B --threads T, median of $runs run(s)"
results=()
for batch in $batches; do
  for threads in $thread_counts; do
    times=()
    for ((r = 0; r < runs; ++r)); do
      "$mnist_vae" --data "$data" --epochs 1 --batch "$batch" --threads "$threads" --quiet \
        --out "$out/run" > /dev/null
      times+=("$(sed -n 's/.*"train_seconds": \([0-9.e+-]*\).*/\1/p' "$out/run/metrics.jsonl")")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
    results+=("$batch $threads $median ${times[*]}")
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${results[@]}" | awk '
  { key = $1; t[$1, $2] = $3; runs[$1, $2] = ""; for (i = 4; i <= NF; ++i) runs[$1, $2] = runs[$1, $2] " " $i;
    if (!(key in seen)) { seen[key] = 1; order[++n] = key } threads[$2] = 1 }
  END {
    printf "| batch | threads | epoch s (median) | samples/s | 2-thread speed-up | runs (s) |\n"
    printf "|---:|---:|---:|---:|---:|---|\n"
    for (i = 1; i <= n; ++i) {
      b = order[i]
      for (th = 1; th <= 64; ++th) {
        if (!((b, th) in t)) continue
        up = (th > 1 && (b, 1) in t) ? sprintf("%.2fx", t[b, 1] / t[b, th]) : ""
        printf "| %s | %d | %.3f | %.0f | %s |%s |\n", b, th, t[b, th], 60000 / t[b, th], up, runs[b, th]
      }
    }
  }'
