#!/usr/bin/env bash
# kiln set-up: installs the Debian packages kiln needs, builds it, and runs the main job on its
# default data (the Fashion-MNIST demo). Usage: ./setup.sh [--no-run]
#   KILN_BUILD_DIR   build folder (default: build)
#   KILN_CMAKE_ARGS  extra CMake arguments (e.g. -DCMAKE_CUDA_ARCHITECTURES=90 -DKILN_WERROR=ON)
set -euo pipefail
cd "$(dirname "$0")"

run_demo=1
[ "${1:-}" = "--no-run" ] && run_demo=0

# Build tools, test framework, BLAS, zlib, single-file image libraries, and the data sets (images,
# text, MIDI music).
packages=(build-essential cmake ninja-build pkg-config catch2 libopenblas-dev zlib1g-dev libstb-dev
          libpng-dev libjpeg62-turbo-dev  # PNG and JPEG decoding
          dataset-fashion-mnist fortunes planetblupi-music-midi pianobooster)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "kiln setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build="${KILN_BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"

if [ "$run_demo" = 1 ]; then
  "$build/kiln" train
fi
