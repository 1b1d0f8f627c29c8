// CPU reference kernels for indexing: index_select/embedding (rows picked along one dim), gather
// (one index per output element) and their scatter-add backwards, and one_hot. Index values must
// already be checked to lie in range (the ops in core/ops/index.cpp do). Outputs and input gradients
// are contiguous; gradients sum in double, in index order, so results are deterministic.
// Compute only: no tensors, no autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cpu {

using Dims = std::vector<int64_t>;

// y[..., i, ...] = x[..., index[i], ...] along `dim`; y is contiguous with x's shape but n at `dim`.
void index_select_forward(DType dtype, const Dims& x_shape, const int64_t* x_strides, const void* x, int64_t dim,
                          const int64_t* index, int64_t n, void* y);
// dx = 0; dx[..., index[i], ...] += dy[..., i, ...] for i = 0..n−1 in order, skipping index[i] == skip
// (pass −1 to skip nothing). dx is contiguous of x_shape; dy has x's shape but n at `dim`.
void index_select_backward(DType dtype, const Dims& x_shape, int64_t dim, const int64_t* index, int64_t n, int64_t skip,
                           const void* dy, const int64_t* dy_strides, void* dx);

// y[p] = x[p with p[dim] replaced by index[p]] for every position p of index_shape; y contiguous.
void gather_forward(DType dtype, const Dims& index_shape, const int64_t* index_strides, const int64_t* index,
                    const int64_t* x_strides, const void* x, int64_t dim, void* y);
// dx = 0; dx[p with p[dim] = index[p]] += dy[p] in row-major order of p; dx contiguous of x_shape.
void gather_backward(DType dtype, const Dims& x_shape, const Dims& index_shape, const int64_t* index_strides,
                     const int64_t* index, int64_t dim, const void* dy, const int64_t* dy_strides, void* dx);

// y [n, num_classes] = 0 except y[i][indices[i]] = 1.
void one_hot(const int64_t* indices, int64_t n, int64_t num_classes, int64_t* y);

}  // namespace kiln::cpu
