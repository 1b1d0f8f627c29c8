#!/usr/bin/env bash
# One call on a GPU machine (see ../shared/device/README.md): configure, build, run the whole test
# suite, the CUDA conformance suite under compute-sanitizer (memcheck, racecheck, synccheck), and the
# attention memory benchmark; logs go
# to $OUT (or ./gpu-check-logs). Usage: tools/gpu_check.sh [extra cmake args]
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check-logs}"
mkdir -p "$out"
extra_include=""
[ -d .devicepack/include ] && extra_include="-DKILN_EXTRA_INCLUDE=$PWD/.devicepack/include"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  nvcc --version | tail -2
  date -u
} > "$out/machine.txt" 2>&1
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 $extra_include "$@" \
  > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -E 'error' -A5 "$out/build.log" | head -60; exit 1; }
ctest --test-dir build-gpu --output-on-failure -j4 > "$out/ctest.log" 2>&1
echo "ctest: $(tail -3 "$out/ctest.log" | head -1)"
./build-gpu/tests/kiln_tests "[cuda]" > "$out/cuda_tests.log" 2>&1
echo "cuda tests: $(tail -2 "$out/cuda_tests.log")"
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --leak-check none ./build-gpu/tests/kiln_tests "[cuda]" > "$out/memcheck.log" 2>&1
  echo "memcheck: $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -1)"
  # The kernels with shared memory and warp shuffles (flash attention, reductions, the fused optimizer)
  # also under racecheck and synccheck.
  for tool in racecheck synccheck; do
    compute-sanitizer --tool $tool ./build-gpu/tests/kiln_tests "[cuda]" > "$out/$tool.log" 2>&1
    echo "$tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool.log" | tail -1)"
  done
fi
[ -x build-gpu/benchmarks/bench_attention_memory ] &&
  ./build-gpu/benchmarks/bench_attention_memory > "$out/attention_memory.md" 2>&1 &&
  echo "attention memory benchmark: $out/attention_memory.md"
grep -E "FAILED|with message|max \|diff\|.*exceeds" -A3 "$out/cuda_tests.log" | head -80
