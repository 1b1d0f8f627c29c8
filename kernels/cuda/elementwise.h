// CUDA kernels of the elementwise ops: the same functions and signatures as kernels/cpu/elementwise.h
// (device pointers; shapes and strides are host arrays). Outputs are contiguous; inputs are strided
// views already broadcast to the output shape (stride 0 on broadcast dims). Compute only: no autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/binary_math.h"
#include "kernels/common/unary_math.h"

namespace kiln::cuda {

using Dims = std::vector<int64_t>;

// y = f(x)
void unary_forward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                   const int64_t* x_strides);
// dx = f'(x, y)·dy
void unary_backward(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                    const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                    const int64_t* dy_strides);
// y = a ∘ b. y may be a itself (same layout): the autograd engine adds gradients in place this way, so
// y[i] is written only from a[i] and b[i] (no __restrict__ on y and a; a vector loads before it stores).
void binary_forward(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a, const int64_t* a_strides,
                    const void* b, const int64_t* b_strides);
// da = dy·∂y/∂a, db = dy·∂y/∂b at full output shape (either output may be null: not needed)
void binary_backward(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                     const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                     const int64_t* dy_strides);
// y (bool) = a ⋚ b
void compare(CompareOp op, DType dtype, const Dims& shape, bool* y, const void* a, const int64_t* a_strides,
             const void* b, const int64_t* b_strides);
// y = cond ? a : b
void where(DType dtype, const Dims& shape, void* y, const bool* cond, const int64_t* cond_strides, const void* a,
           const int64_t* a_strides, const void* b, const int64_t* b_strides);

}  // namespace kiln::cuda
