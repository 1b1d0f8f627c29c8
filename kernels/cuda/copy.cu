// Strided copy with dtype conversion and fill, on the GPU. Grid-stride loops over the output.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/strided_index.cuh"

namespace kiln::cuda {
namespace {

template <class D, class S>
__global__ void copy_kernel(D* dst, StridedDesc dd, const S* src, StridedDesc sd, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[strided_offset(dd, i)] = static_cast<D>(src[strided_offset(sd, i)]);
}

template <class T>
__global__ void fill_kernel(T* dst, StridedDesc dd, T value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[strided_offset(dd, i)] = value;
}


template <class D>
void copy_from(D* dst, StridedDesc dd, const void* src, DType src_dtype, StridedDesc sd, int64_t n) {
  switch (src_dtype) {
    case DType::Float32: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const float*>(src), sd, n); break;
    case DType::Float64: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const double*>(src), sd, n); break;
    case DType::Int64: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const int64_t*>(src), sd, n); break;
    case DType::Int32: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const int32_t*>(src), sd, n); break;
    case DType::UInt8: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const uint8_t*>(src), sd, n); break;
    case DType::Bool: copy_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, dd, static_cast<const bool*>(src), sd, n); break;
    default: KILN_FAIL("CUDA copy: source dtype ", dtype_name(src_dtype), " is not supported yet");
  }
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides) {
  StridedDesc dd = make_desc(shape, dst_strides), sd = make_desc(shape, src_strides);
  int64_t n = desc_numel(dd);
  if (n == 0) return;
  switch (dst_dtype) {
    case DType::Float32: copy_from(static_cast<float*>(dst), dd, src, src_dtype, sd, n); break;
    case DType::Float64: copy_from(static_cast<double*>(dst), dd, src, src_dtype, sd, n); break;
    case DType::Int64: copy_from(static_cast<int64_t*>(dst), dd, src, src_dtype, sd, n); break;
    case DType::Int32: copy_from(static_cast<int32_t*>(dst), dd, src, src_dtype, sd, n); break;
    case DType::UInt8: copy_from(static_cast<uint8_t*>(dst), dd, src, src_dtype, sd, n); break;
    case DType::Bool: copy_from(static_cast<bool*>(dst), dd, src, src_dtype, sd, n); break;
    default: KILN_FAIL("CUDA copy: destination dtype ", dtype_name(dst_dtype), " is not supported yet");
  }
}

void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value) {
  StridedDesc dd = make_desc(shape, strides);
  int64_t n = desc_numel(dd);
  if (n == 0) return;
  switch (dtype) {
    case DType::Float32: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<float*>(dst), dd, float(value), n); break;
    case DType::Float64: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<double*>(dst), dd, value, n); break;
    case DType::Int64: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<int64_t*>(dst), dd, int64_t(value), n); break;
    case DType::Int32: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<int32_t*>(dst), dd, int32_t(value), n); break;
    case DType::UInt8: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<uint8_t*>(dst), dd, uint8_t(value), n); break;
    case DType::Bool: fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<bool*>(dst), dd, value != 0.0, n); break;
    default: KILN_FAIL("CUDA fill: dtype ", dtype_name(dtype), " is not supported yet");
  }
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
