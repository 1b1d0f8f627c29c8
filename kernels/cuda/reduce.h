// CUDA versions of kernels/cpu/reduce.h, same signatures and semantics (NaN propagation, the first
// index among ties, accumulation in double); all pointers are device memory. Deterministic: no
// atomics, and the summation order depends only on the shape.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/reduce.h"  // cpu::ReduceKind

namespace kiln::cuda {

void reduce(cpu::ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out);
void arg_reduce(bool is_max, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
                int64_t dim, void* values, int64_t* indices);
void arg_reduce_backward(DType dtype, const std::vector<int64_t>& shape, int64_t dim, const int64_t* indices,
                         const void* dy, void* dx);
void variance(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
              const std::vector<int64_t>& dims, double correction, bool take_sqrt, void* out);
void logsumexp(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
               const std::vector<int64_t>& dims, void* out);

}  // namespace kiln::cuda
