// Shape and strides passed by value to a kernel, and the offset of linear element i.
#pragma once
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {

struct StridedDesc {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};

inline StridedDesc make_desc(const std::vector<int64_t>& shape, const int64_t* strides) {
  KILN_CHECK(shape.size() <= size_t(kMaxDims), "CUDA kernels take at most ", kMaxDims, " dims, got ", shape.size());
  StridedDesc d{};
  d.ndim = int(shape.size());
  for (int i = 0; i < d.ndim; ++i) {
    d.shape[i] = shape[i];
    d.strides[i] = strides[i];
  }
  return d;
}

__device__ __forceinline__ int64_t strided_offset(const StridedDesc& d, int64_t linear) {
  int64_t off = 0;
  for (int i = d.ndim - 1; i >= 0; --i) {
    int64_t idx = linear % d.shape[i];
    linear /= d.shape[i];
    off += idx * d.strides[i];
  }
  return off;
}

inline int64_t desc_numel(const StridedDesc& d) {
  int64_t n = 1;
  for (int i = 0; i < d.ndim; ++i) n *= d.shape[i];
  return n;
}

}  // namespace kiln::cuda
