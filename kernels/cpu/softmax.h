// CPU kernels for softmax and log-softmax along one dim. Inputs are strided views, outputs contiguous.
// softmax_forward/backward take the fast path (rowwise_fast.h) when the lines are contiguous rows and
// the *_reference loops otherwise: every line in double with its max subtracted first (no overflow).
// Compute only: no tensors, no autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cpu {

// y = e^{x − m}/Σe^{x − m} (or its log: x − m − ln Σe^{x − m}) along dim, m = max along dim.
void softmax_forward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                     const int64_t* x_strides, void* y);
// softmax: dx = y·(dy − Σ dy·y) ;  log-softmax: dx = dy − eʸ·Σ dy  (sums along dim); dx contiguous.
void softmax_backward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                      const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx);

// The plain reference loops (any strides), kept as what the fast path is tested against.
void softmax_forward_reference(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                               const int64_t* x_strides, void* y);
void softmax_backward_reference(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                                const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx);

}  // namespace kiln::cpu
