// Block-wide tree reductions (sum, max) of one value per thread through shared memory, and a scoped
// device scratch buffer from kiln's caching allocator. The tree's order is fixed by thread index, so
// results do not depend on timing. Used by the normalization and attention kernels; no atomics.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/allocator.h"
#include "core/cuda_context.h"

namespace kiln::cuda {

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // as std::max: a NaN in b is ignored
  template <class T>
  __device__ T operator()(T a, T b) const { return a < b ? b : a; }
};

// Reduces v over the block. Every thread of the block must call it (it synchronizes); blockDim.x
// must be a power of two and smem must hold blockDim.x values. Every thread gets the result.
template <class T, class Op>
__device__ T block_reduce(T v, T* smem, Op op) {
  const unsigned t = threadIdx.x;
  smem[t] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) smem[t] = op(smem[t], smem[t + s]);
    __syncthreads();
  }
  const T r = smem[0];
  __syncthreads();  // smem may be reused right after
  return r;
}

// Blocks for a loop of one block per row (block-uniform grid-stride over rows).
inline unsigned blocks_for_rows(int64_t rows) { return unsigned(std::clamp<int64_t>(rows, 1, 65535)); }

// Device memory for the duration of one host call, from the caching allocator: freeing it right
// after the launches is safe because the cache hands it out again only to work on the same stream.
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t bytes)
      : device_(Device::cuda(current_device())),
        bytes_(bytes),
        ptr_(bytes ? allocator_for(device_).allocate(bytes) : nullptr) {}
  ~DeviceScratch() {
    if (ptr_) allocator_for(device_).deallocate(ptr_, bytes_);
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  Device device_;
  size_t bytes_;
  void* ptr_;
};

}  // namespace kiln::cuda
