// The CUDA kernels under kiln's own convolution path (kernels/cuda/conv.cpp): im2col, col2im as a gather
// (each image element sums the col elements read from it: no atomics, deterministic), and the per-channel
// bias add and bias gradient. Index math shared with the CPU through kernels/common/conv_math.h.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "kernels/common/conv_math.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/launch.cuh"

namespace kiln::cuda {
namespace {

// The scalar fields of a Conv2dGeometry that the kernels read, passed by value.
struct ConvDims {
  int64_t in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

ConvDims dims_of(const cpu::Conv2dGeometry& g) {
  return {g.in_h,     g.in_w,     g.out_h, g.out_w, g.kernel_h,   g.kernel_w,
          g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w};
}

// One thread per col element (grid-stride): col[(c·kH + i)·kW + j, oh·out_w + ow] = x[c, ih, iw] or 0 in the padding.
template <class T>
__global__ void im2col_kernel(ConvDims d, const T* __restrict__ x, T* __restrict__ col, int64_t total) {
  const int64_t cols = d.out_h * d.out_w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / cols, p = e % cols;
    const int64_t c = row / (d.kernel_h * d.kernel_w), tap = row % (d.kernel_h * d.kernel_w);
    const int64_t i = tap / d.kernel_w, j = tap % d.kernel_w;
    const int64_t oh = p / d.out_w, ow = p % d.out_w;
    const int64_t ih = conv_input_index(oh, i, d.stride_h, d.pad_h, d.dilation_h);
    const int64_t iw = conv_input_index(ow, j, d.stride_w, d.pad_w, d.dilation_w);
    const bool inside = ih >= 0 && ih < d.in_h && iw >= 0 && iw < d.in_w;
    col[e] = inside ? x[(c * d.in_h + ih) * d.in_w + iw] : T(0);
  }
}

// One thread per image element x[c, ih, iw] (grid-stride): the sum over taps (i, j), in the CPU's order, of
// the col element of the output position (oh, ow) with oh·stride − pad + i·dilation = ih (and likewise w).
template <class T>
__global__ void col2im_kernel(ConvDims d, const T* __restrict__ col, T* __restrict__ x, int64_t total) {
  const int64_t cols = d.out_h * d.out_w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % d.in_w, ih = (e / d.in_w) % d.in_h, c = e / (d.in_w * d.in_h);
    T acc = T(0);
    for (int64_t i = 0; i < d.kernel_h; ++i) {
      const int64_t th = ih + d.pad_h - i * d.dilation_h;  // = oh·stride_h
      if (th < 0) break;                                   // only decreases with i
      if (th % d.stride_h != 0) continue;
      const int64_t oh = th / d.stride_h;
      if (oh >= d.out_h) continue;
      for (int64_t j = 0; j < d.kernel_w; ++j) {
        const int64_t tw = iw + d.pad_w - j * d.dilation_w;
        if (tw < 0) break;
        if (tw % d.stride_w != 0) continue;
        const int64_t ow = tw / d.stride_w;
        if (ow >= d.out_w) continue;
        acc += col[((c * d.kernel_h + i) * d.kernel_w + j) * cols + oh * d.out_w + ow];
      }
    }
    x[e] = acc;
  }
}

// One thread per element (grid-stride): y[n, c, s] += bias[c].
template <class T>
__global__ void add_channel_bias_kernel(int64_t channels, int64_t spatial, const T* __restrict__ bias, T* y,
                                        int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x)
    y[e] += bias[(e / spatial) % channels];
}

constexpr int kSumThreads = 256;

// One block per channel (grid-stride over channels): its threads sum dy[n, c, :] over n and spatial in
// double, then a shared-memory tree adds the 256 partial sums in a fixed order.
template <class T>
__global__ void sum_per_channel_kernel(int64_t batch, int64_t channels, int64_t spatial, const T* __restrict__ dy,
                                       T* __restrict__ db) {
  __shared__ double partial[kSumThreads];
  const int64_t count = batch * spatial;
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    double acc = 0;
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x) {
      const int64_t n = t / spatial, s = t % spatial;
      acc += double(dy[(n * channels + c) * spatial + s]);
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kSumThreads / 2; half > 0; half /= 2) {
      if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) db[c] = T(partial[0]);
    __syncthreads();  // partial[0] is read before the next channel overwrites it
  }
}

}  // namespace

template <class T>
void im2col(const cpu::Conv2dGeometry& g, int64_t channels, const T* x, T* col) {
  const int64_t total = channels * g.kernel_h * g.kernel_w * g.out_h * g.out_w;
  if (total == 0) return;
  im2col_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(dims_of(g), x, col, total);
  KILN_CUDA_CHECK_LAUNCH();
}

template <class T>
void col2im(const cpu::Conv2dGeometry& g, int64_t channels, const T* col, T* x) {
  const int64_t total = channels * g.in_h * g.in_w;
  if (total == 0) return;
  col2im_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(dims_of(g), col, x, total);
  KILN_CUDA_CHECK_LAUNCH();
}

template <class T>
void add_channel_bias(int64_t batch, int64_t channels, int64_t spatial, const T* bias, T* y) {
  const int64_t total = batch * channels * spatial;
  if (total == 0) return;
  add_channel_bias_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(channels, spatial, bias, y, total);
  KILN_CUDA_CHECK_LAUNCH();
}

template <class T>
void sum_per_channel(int64_t batch, int64_t channels, int64_t spatial, const T* dy, T* db) {
  if (channels == 0) return;
  const unsigned blocks = unsigned(channels < 65535 ? channels : 65535);
  sum_per_channel_kernel<T><<<blocks, kSumThreads, 0, launch_stream()>>>(batch, channels, spatial, dy, db);
  KILN_CUDA_CHECK_LAUNCH();
}

#define KILN_INSTANTIATE_CUDA_CONV_KERNELS(T)                                 \
  template void im2col<T>(const cpu::Conv2dGeometry&, int64_t, const T*, T*); \
  template void col2im<T>(const cpu::Conv2dGeometry&, int64_t, const T*, T*); \
  template void add_channel_bias<T>(int64_t, int64_t, int64_t, const T*, T*); \
  template void sum_per_channel<T>(int64_t, int64_t, int64_t, const T*, T*);
KILN_INSTANTIATE_CUDA_CONV_KERNELS(float)
KILN_INSTANTIATE_CUDA_CONV_KERNELS(double)
#undef KILN_INSTANTIATE_CUDA_CONV_KERNELS

}  // namespace kiln::cuda
