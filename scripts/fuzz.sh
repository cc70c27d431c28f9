#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, -fsanitize=fuzzer,address,undefined)
# and runs each from the seed corpus in fuzz/corpus/<kind>/ for
# FUZZ_SECONDS / 2 seconds (FUZZ_SECONDS defaults to 60), the six for
# 3 x FUZZ_SECONDS in all. New inputs go to a scratch directory, not the
# repository. Any finding (crash, sanitizer report, unexpected exception,
# timeout, out-of-memory) fails the script; the input that caused it is kept
# in $FUZZ_ARTIFACTS (default build-fuzz/artifacts): add it to
# fuzz/corpus/<kind>/ as regression-<name> once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-fuzz}
seconds=$(( ${FUZZ_SECONDS:-60} / 2 ))
(( seconds > 0 )) || seconds=1
artifacts=${FUZZ_ARTIFACTS:-$build/artifacts}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_CXX_FLAGS="-Werror" \
  -DSCVAE_BUILD_FUZZERS=ON -DSCVAE_BUILD_TESTS=OFF -DSCVAE_BUILD_EXAMPLES=OFF \
  -DSCVAE_BUILD_BENCHMARKS=OFF -DSCVAE_INSTALL=OFF "$@"
cmake --build "$build" -j "$(nproc)" --target idx_fuzzer checkpoint_fuzzer architecture_fuzzer spec_fuzzer \
  csv_fuzzer npy_fuzzer
mkdir -p "$artifacts"
status=0
for kind in idx checkpoint architecture spec csv npy; do
  scratch=$(mktemp -d)
  echo "== ${kind}_fuzzer for ${seconds} s"
  # -max_len: the seeds are small; -malloc_limit_mb: no input may make the
  # reader allocate more than this (it must not trust a header's sizes).
  if ! "$build/fuzz/${kind}_fuzzer" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$artifacts/${kind}-" "$scratch" "fuzz/corpus/$kind" \
      >"$artifacts/${kind}.log" 2>&1; then
    echo "${kind}_fuzzer found a problem; the input is in $artifacts:"
    tail -n 60 "$artifacts/${kind}.log"
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$artifacts/${kind}.log" || true
  fi
  rm -rf "$scratch"
done
exit $status
