// CPU kernels for the elementwise ops: fast contiguous paths beside the strided reference loops.
// Outputs are contiguous; inputs are strided views already broadcast to the output shape (stride 0 on
// broadcast dims). Compute only: no autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/binary_math.h"
#include "kernels/common/unary_math.h"

namespace kiln::cpu {

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
// The two implementations behind the four kernels above, for the tests and the kernel lab:
// *_strided is the plain reference (one n-d strided loop, strided_loop.h); *_contiguous the fast path
// (one flat loop, OpenMP chunks above kParallelElements: flat_loop.h) when every operand is contiguous
// or, for binary_forward, one of the two a broadcast scalar; it returns false, doing nothing, otherwise.
void unary_forward_strided(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                           const int64_t* x_strides);
bool unary_forward_contiguous(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* y, const void* x,
                              const int64_t* x_strides);
void unary_backward_strided(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                            const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                            const int64_t* dy_strides);
bool unary_backward_contiguous(UnaryOp op, UnaryParams p, DType dtype, const Dims& shape, void* dx, const void* x,
                               const int64_t* x_strides, const void* y, const int64_t* y_strides, const void* dy,
                               const int64_t* dy_strides);
void binary_forward_strided(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides);
bool binary_forward_contiguous(BinaryOp op, DType dtype, const Dims& shape, void* y, const void* a,
                               const int64_t* a_strides, const void* b, const int64_t* b_strides);
void binary_backward_strided(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides);
bool binary_backward_contiguous(BinaryOp op, DType dtype, const Dims& shape, void* da, void* db, const void* a,
                                const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                                const int64_t* dy_strides);

// y (bool) = a ⋚ b
void compare(CompareOp op, DType dtype, const Dims& shape, bool* y, const void* a, const int64_t* a_strides,
             const void* b, const int64_t* b_strides);
// y = cond ? a : b
void where(DType dtype, const Dims& shape, void* y, const bool* cond, const int64_t* cond_strides, const void* a,
           const int64_t* a_strides, const void* b, const int64_t* b_strides);

}  // namespace kiln::cpu
