// Strided copy with dtype conversion, and fill, on the GPU, through the elementwise launcher
// (kernels/cuda/elementwise_launch.cuh: contiguous vectorized path, or strided path over merged dims).
// A same-dtype copy where both sides are contiguous is one cudaMemcpyAsync on the launch stream;
// other same-dtype copies move the elements' bits (so they also serve float16/bfloat16).
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise_launch.cuh"

namespace kiln::cuda {
namespace {

using Dims = std::vector<int64_t>;

// dst element = static_cast<D>(src element), as on the CPU (kernels/cpu/copy.cpp).
template <class D, class S>
struct ConvertF {
  __host__ __device__ ew::Res<D, 1> operator()(S s) const { return ew::result(static_cast<D>(s)); }
};

template <class T>
struct FillF {
  T value;
  __host__ __device__ ew::Res<T, 1> operator()() const { return ew::result(value); }
};

template <class D, class S>
void convert(const Dims& shape, void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides) {
  ew::launch(ConvertF<D, S>{}, shape, ew::OutPtrs<D, 1>{{static_cast<D*>(dst)}}, dst_strides,
             std::array<const int64_t*, 1>{src_strides}, static_cast<const S*>(src));
}

template <class D>
void convert_from(const Dims& shape, void* dst, const int64_t* dst_strides, const void* src, DType src_dtype,
                  const int64_t* src_strides) {
  switch (src_dtype) {
    case DType::Float32: return convert<D, float>(shape, dst, dst_strides, src, src_strides);
    case DType::Float64: return convert<D, double>(shape, dst, dst_strides, src, src_strides);
    case DType::Int64: return convert<D, int64_t>(shape, dst, dst_strides, src, src_strides);
    case DType::Int32: return convert<D, int32_t>(shape, dst, dst_strides, src, src_strides);
    case DType::UInt8: return convert<D, uint8_t>(shape, dst, dst_strides, src, src_strides);
    case DType::Bool: return convert<D, bool>(shape, dst, dst_strides, src, src_strides);
    default: KILN_FAIL("CUDA copy: source dtype ", dtype_name(src_dtype), " is not supported yet");
  }
}

template <class T>
void fill(const Dims& shape, void* dst, const int64_t* strides, T value) {
  ew::launch(FillF<T>{value}, shape, ew::OutPtrs<T, 1>{{static_cast<T*>(dst)}}, strides,
             std::array<const int64_t*, 0>{});
}

}  // namespace

void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  if (n == 0) return;
  if (dst_dtype == src_dtype) {
    ew::Layout<2> l = ew::coalesce<2>(shape, {dst_strides, src_strides});
    if (ew::all_contiguous(l)) {  // both walk memory in element order: one device-to-device memcpy
      if (dst != src)
        KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * dtype_size(dst_dtype), cudaMemcpyDeviceToDevice,
                                        launch_stream()));
      return;
    }
    // strided: copy the bits, as an unsigned integer of the element's size
    switch (dtype_size(dst_dtype)) {
      case 1: return convert<uint8_t, uint8_t>(shape, dst, dst_strides, src, src_strides);
      case 2: return convert<uint16_t, uint16_t>(shape, dst, dst_strides, src, src_strides);
      case 4: return convert<uint32_t, uint32_t>(shape, dst, dst_strides, src, src_strides);
      case 8: return convert<uint64_t, uint64_t>(shape, dst, dst_strides, src, src_strides);
      default: KILN_FAIL("CUDA copy: dtype ", dtype_name(dst_dtype), " is not supported yet");
    }
  }
  switch (dst_dtype) {
    case DType::Float32: return convert_from<float>(shape, dst, dst_strides, src, src_dtype, src_strides);
    case DType::Float64: return convert_from<double>(shape, dst, dst_strides, src, src_dtype, src_strides);
    case DType::Int64: return convert_from<int64_t>(shape, dst, dst_strides, src, src_dtype, src_strides);
    case DType::Int32: return convert_from<int32_t>(shape, dst, dst_strides, src, src_dtype, src_strides);
    case DType::UInt8: return convert_from<uint8_t>(shape, dst, dst_strides, src, src_dtype, src_strides);
    case DType::Bool: return convert_from<bool>(shape, dst, dst_strides, src, src_dtype, src_strides);
    default: KILN_FAIL("CUDA copy: destination dtype ", dtype_name(dst_dtype), " is not supported yet");
  }
}

void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value) {
  switch (dtype) {
    case DType::Float32: return fill<float>(shape, dst, strides, static_cast<float>(value));
    case DType::Float64: return fill<double>(shape, dst, strides, value);
    case DType::Int64: return fill<int64_t>(shape, dst, strides, static_cast<int64_t>(value));
    case DType::Int32: return fill<int32_t>(shape, dst, strides, static_cast<int32_t>(value));
    case DType::UInt8: return fill<uint8_t>(shape, dst, strides, static_cast<uint8_t>(value));
    case DType::Bool: return fill<bool>(shape, dst, strides, static_cast<bool>(value));
    default: KILN_FAIL("CUDA fill: dtype ", dtype_name(dtype), " is not supported yet");
  }
}

}  // namespace kiln::cuda
