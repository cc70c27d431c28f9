#!/usr/bin/env bash
# The main job in one command: installs what is missing (Debian packages,
# including Fashion-MNIST), builds the examples tuned for this machine (all
# three, so the README's mnist_multitask and mnist_m2 commands work next), and
# trains mnist_vae with the pytorch/examples defaults. Metrics, pictures and
# the model land in runs/mnist_vae. Extra arguments go to mnist_vae
# (e.g. --epochs 20, --data DIR, --threads 1; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-examples -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSCVAE_BUILD_TESTS=OFF -DSCVAE_BUILD_BENCHMARKS=OFF > /dev/null
cmake --build build-examples --target mnist_vae mnist_multitask mnist_m2 -j "$(nproc)"
exec build-examples/examples/mnist_vae "$@"
