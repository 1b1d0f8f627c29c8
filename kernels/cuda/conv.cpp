// CUDA 2-D convolution: cuDNN first (kernels/cudnn/cudnn_conv), else kiln's im2col + GEMM path, which mirrors
// kernels/cpu/conv.cpp image by image with one strided-batched GEMM over the groups. Scratch memory (the
// column buffer) is a kiln tensor from the caching allocator; nothing here synchronizes.
#include "kernels/cuda/conv.h"

#include <cuda_runtime.h>

#include <atomic>
#include <type_traits>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/tensor.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cudnn/cudnn_conv.h"

namespace kiln::cuda {
namespace {

std::atomic<bool> g_cudnn_enabled{true};

template <class T>
constexpr DType dtype_for() {
  return std::is_same_v<T, double> ? DType::Float64 : DType::Float32;
}

// A 1×1 kernel with stride 1, no padding and an image the size of the columns: col is the image itself.
bool col_is_image(const cpu::Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
         g.in_h == g.out_h && g.in_w == g.out_w;
}

// The column buffer of one image (all groups): [C_in·kH·kW, out_h·out_w].
template <class T>
Tensor column_buffer(const cpu::Conv2dGeometry& g) {
  const int64_t numel = g.in_channels * g.kernel_h * g.kernel_w * g.out_h * g.out_w;
  return empty({numel}, {.dtype = dtype_for<T>(), .device = Device::cuda(current_device())});
}

template <class T>
void zero(T* p, int64_t count) {
  if (count > 0) KILN_CUDA_CHECK(cudaMemsetAsync(p, 0, size_t(count) * sizeof(T), launch_stream()));
}

}  // namespace

void set_cudnn_enabled(bool enabled) { g_cudnn_enabled.store(enabled); }
bool cudnn_available() {
#if KILN_HAVE_CUDNN
  return true;
#else
  return false;
#endif
}
bool cudnn_enabled() { return cudnn_available() && g_cudnn_enabled.load(); }

template <class T>
void conv2d_forward(const cpu::Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  if (g.batch * g.out_channels * cols == 0) return;  // no output
  if (!(cudnn_enabled() && cudnn_conv2d_forward(g, dtype_for<T>(), x, w, y))) {
    const bool direct = col_is_image(g);
    Tensor buffer = direct ? Tensor() : column_buffer<T>(g);
    for (int64_t n = 0; n < g.batch; ++n) {
      const T* x_n = x + n * g.in_channels * g.in_h * g.in_w;
      T* y_n = y + n * g.out_channels * cols;
      const T* col = x_n;
      if (!direct) {
        cuda::im2col<T>(g, g.in_channels, x_n, buffer.data_ptr<T>());
        col = buffer.data_ptr<T>();
      }
      // Y_g [C_out/G, cols] = W_g [C_out/G, k] · col_g [k, cols], for every group g at once.
      gemm_strided_batched<T>(false, false, cout_g, cols, k, T(1), w, k, cout_g * k, col, cols, k * cols, T(0), y_n,
                              cols, cout_g * cols, g.groups);
    }
  }
  if (bias) cuda::add_channel_bias<T>(g.batch, g.out_channels, cols, bias, y);
}

template <class T>
void conv2d_backward_input(const cpu::Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  if (g.batch * g.in_channels * g.in_h * g.in_w == 0) return;  // no input gradient
  if (cudnn_enabled() && cudnn_conv2d_backward_data(g, dtype_for<T>(), dy, w, dx)) return;
  const bool direct = col_is_image(g);
  Tensor buffer = direct ? Tensor() : column_buffer<T>(g);
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* dy_n = dy + n * g.out_channels * cols;
    T* dx_n = dx + n * g.in_channels * g.in_h * g.in_w;
    T* dcol = direct ? dx_n : buffer.data_ptr<T>();
    // dcol_g [k, cols] = W_gᵀ · dY_g [C_out/G, cols], for every group at once.
    gemm_strided_batched<T>(true, false, k, cols, cout_g, T(1), w, k, cout_g * k, dy_n, cols, cout_g * cols, T(0), dcol,
                            cols, k * cols, g.groups);
    if (!direct) cuda::col2im<T>(g, g.in_channels, dcol, dx_n);
  }
}

template <class T>
void conv2d_backward_weight(const cpu::Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t k = cin_g * g.kernel_h * g.kernel_w, cols = g.out_h * g.out_w;
  const int64_t dw_numel = g.out_channels * k;
  if (dw_numel == 0) return;
  if (g.batch == 0 || cols == 0) {  // an empty sum
    zero(dw, dw_numel);
    return;
  }
  if (cudnn_enabled() && cudnn_conv2d_backward_filter(g, dtype_for<T>(), x, dy, dw)) return;
  const bool direct = col_is_image(g);
  Tensor buffer = direct ? Tensor() : column_buffer<T>(g);
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* x_n = x + n * g.in_channels * g.in_h * g.in_w;
    const T* dy_n = dy + n * g.out_channels * cols;
    const T* col = x_n;
    if (!direct) {
      cuda::im2col<T>(g, g.in_channels, x_n, buffer.data_ptr<T>());
      col = buffer.data_ptr<T>();
    }
    // dW_g [C_out/G, k] (+)= dY_g [C_out/G, cols] · col_gᵀ; the first image overwrites, the rest accumulate.
    gemm_strided_batched<T>(false, true, cout_g, k, cols, T(1), dy_n, cols, cout_g * cols, col, cols, k * cols,
                            n == 0 ? T(0) : T(1), dw, k, cout_g * k, g.groups);
  }
}

#define KILN_INSTANTIATE_CUDA_CONV(T)                                                            \
  template void conv2d_forward<T>(const cpu::Conv2dGeometry&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_input<T>(const cpu::Conv2dGeometry&, const T*, const T*, T*);    \
  template void conv2d_backward_weight<T>(const cpu::Conv2dGeometry&, const T*, const T*, T*);
KILN_INSTANTIATE_CUDA_CONV(float)
KILN_INSTANTIATE_CUDA_CONV(double)
#undef KILN_INSTANTIATE_CUDA_CONV

}  // namespace kiln::cuda
