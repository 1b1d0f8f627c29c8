// CUDA kernels for indexing: the functions of kernels/cpu/index.h with the same signatures (device
// pointers; gather_forward also takes x's size along `dim`, which the CPU kernel does not need).
// Index values are checked on the device, without a host sync: a kernel that meets an out-of-range
// index writes 0 (or skips it) and records it, and the next CUDA indexing call (or raise_index_errors)
// throws. Backwards are deterministic scatter-adds (no float atomics). Plain C++ header. Compute only.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cuda {

using Dims = std::vector<int64_t>;

void index_select_forward(DType dtype, const Dims& x_shape, const int64_t* x_strides, const void* x, int64_t dim,
                          const int64_t* index, int64_t n, void* y);
// Sorts the indices (stable radix sort), then each element of dx sums its rows of dy in index order.
void index_select_backward(DType dtype, const Dims& x_shape, int64_t dim, const int64_t* index, int64_t n, int64_t skip,
                           const void* dy, const int64_t* dy_strides, void* dx);

void gather_forward(DType dtype, const Dims& index_shape, const int64_t* index_strides, const int64_t* index,
                    const int64_t* x_strides, const void* x, int64_t dim, void* y, int64_t x_dim_size);
// Each element of dx scans the index entries along `dim` that can point at it, in order.
void gather_backward(DType dtype, const Dims& x_shape, const Dims& index_shape, const int64_t* index_strides,
                     const int64_t* index, int64_t dim, const void* dy, const int64_t* dy_strides, void* dx);

void one_hot(const int64_t* indices, int64_t n, int64_t num_classes, int64_t* y);

// Throws kiln::Error if a CUDA indexing kernel queued earlier met an index out of range, then clears
// the record. Does not synchronize: a kernel still running reports at a later call. Every function
// above calls it first; call it after cuda::synchronize() to check a finished step.
void raise_index_errors();

}  // namespace kiln::cuda
