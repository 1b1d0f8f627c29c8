// Host entry points of kiln's CUDA kernels, callable from plain C++ (declarations only).
// Defined in kernels/cuda/*.cu when kiln is built with CUDA. All launch on the current stream
// (the default stream for now; explicit streams come with the CUDA backend).
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/philox.h"

namespace kiln::cuda {

constexpr int kMaxDims = 8;  // strided kernels take shapes of at most this many dims

// dst[i] = convert(src[i]) over `shape`; both device pointers, element strides.
void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides);
void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value);
// The same Philox streams as kernels/cpu/random.h, element for element; `philox` may name a graph's
// device state (philox::resolve).
void random_fill(void* dst, DType dtype, int64_t n, int kind, double a, double b, philox::Args philox);
void random_integers(int64_t* dst, int64_t n, int64_t low, int64_t high, philox::Args philox);
// Writes a captured graph's generator state {seed, offset} (two uint64 on the device) on the current
// stream, before a replay: the values travel in the kernel's arguments (no host buffer to keep alive).
void set_philox_state(uint64_t* state, uint64_t seed, uint64_t offset);

}  // namespace kiln::cuda
