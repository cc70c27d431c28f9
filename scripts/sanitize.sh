#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer and UBSan
# (-DSCVAE_SANITIZE=ON, Debug so Eigen's own range checks are on too, -O1 to
# keep it quick) and runs it. Any sanitizer report fails the test that made
# it (-fno-sanitize-recover=all). Examples, benchmarks and the install-based
# consumer tests are left out to save time: they run in the Release stages.
# CXX picks the compiler (default clang++), BUILD_DIR the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_CXX_FLAGS="-Werror -O1" \
  -DSCVAE_SANITIZE=ON -DSCVAE_BUILD_EXAMPLES=OFF -DSCVAE_BUILD_BENCHMARKS=OFF \
  -DSCVAE_INSTALL=OFF "$@"
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" -j "$(nproc)" --output-on-failure -LE 'consumer|mpi'
