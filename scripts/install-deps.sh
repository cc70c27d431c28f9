#!/usr/bin/env bash
# Installs the Debian packages scvae builds, tests and runs its examples with.
# Skips apt entirely when everything is already there.
set -euo pipefail
packages=(build-essential cmake ninja-build clang pkg-config
          libeigen3-dev libgtest-dev libbenchmark-dev zlib1g-dev
          libcli11-dev libstb-dev dataset-fashion-mnist
          libclang-rt-dev  # libFuzzer and the sanitizer runtimes for clang++
          openmpi-bin libopenmpi-dev)  # the optional distributed part (scvae::mpi)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
