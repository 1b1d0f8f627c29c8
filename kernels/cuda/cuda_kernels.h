// Host entry points of kiln's CUDA kernels, callable from plain C++ (declarations only).
// Defined in kernels/cuda/*.cu when kiln is built with CUDA. All launch on the current stream
// (the default stream for now; explicit streams come with the CUDA backend).
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cuda {

constexpr int kMaxDims = 8;  // strided kernels take shapes of at most this many dims

// dst[i] = convert(src[i]) over `shape`; both device pointers, element strides.
void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides);
void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value);
// The same Philox streams as kernels/cpu/random.h, element for element.
void random_fill(void* dst, DType dtype, int64_t n, int kind, double a, double b, uint64_t seed, uint64_t offset);
void random_integers(int64_t* dst, int64_t n, int64_t low, int64_t high, uint64_t seed, uint64_t offset);

}  // namespace kiln::cuda
