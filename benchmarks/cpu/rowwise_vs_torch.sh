#!/bin/sh
# kiln's row-wise CPU kernels (reference and fast path) beside PyTorch 1.13, case by case and
# alternating kiln / PyTorch so that both see the same machine load; compare the "cpu" columns (the
# median process CPU time) with 1 thread, the best "wall" with more. Usage, from the repository root
# after building with -DKILN_BENCHMARKS=ON:
#   benchmarks/cpu/rowwise_vs_torch.sh [threads] [runs] [rounds]
threads=${1:-1}
runs=${2:-7}
rounds=${3:-2}
bench=${KILN_BENCH:-build/benchmarks/bench_cpu_rowwise}
# glibc keeps freed blocks up to 32 MiB for reuse instead of unmapping them: PyTorch's fresh outputs
# (cross-entropy, layer_norm, batch_norm) then cost no page faults, as kiln's preallocated ones don't.
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296
for case in softmax log_softmax attention cross_entropy layer_norm batch_norm; do
  i=0
  while [ "$i" -lt "$rounds" ]; do
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$bench" "$runs" "$case" | tail -n +2
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
      /usr/bin/python3 "$(dirname "$0")/torch_rowwise.py" "$threads" "$runs" "$case" | tail -n +2
    i=$((i + 1))
  done
done
