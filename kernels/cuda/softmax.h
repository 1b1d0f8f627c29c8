// CUDA versions of kernels/cpu/softmax.h (softmax and log-softmax along one dim, forward and
// backward), same signatures and semantics: every line in double with its max subtracted first.
// All pointers are device memory; outputs contiguous, inputs strided.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cuda {

void softmax_forward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                     const int64_t* x_strides, void* y);
void softmax_backward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                      const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx);

}  // namespace kiln::cuda
