// 2-D pooling and nearest upsampling on the GPU. Forward kernels: one thread per output element, the same
// loops as kernels/cpu/pool.cpp (so ties, NaNs and windows agree). Backward kernels: one thread per input
// element gathers, in the CPU's order (outputs by row, then column), the outputs whose window reads it, and
// sums them in double: deterministic, no atomics. Window math from kernels/common/pool_math.h.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/common/pool_math.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pool.h"

namespace kiln::cuda {
namespace {

using Geometry = cpu::Pool2dGeometry;

// The four element strides of a strided [N, C, H, W] operand, by value.
struct Strides4 {
  int64_t s[4];
};

Strides4 strides4(const int64_t* s) { return {{s[0], s[1], s[2], s[3]}}; }

template <class T>
__device__ __forceinline__ T negative_infinity();
template <>
__device__ __forceinline__ float negative_infinity<float>() {
  return __int_as_float(int(0xff800000u));
}
template <>
__device__ __forceinline__ double negative_infinity<double>() {
  return __longlong_as_double(static_cast<long long>(0xfff0000000000000ull));
}

// The clipped window of an average pool along one axis and its padded length (as avg_window in the CPU kernels).
struct AvgWindow {
  int64_t start, end, padded_len;
};
__device__ __forceinline__ AvgWindow avg_window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p) {
  const int64_t start = o * s - p;
  const int64_t end = start + k < in + p ? start + k : in + p;
  return {start > 0 ? start : 0, end < in ? end : in, end - start};
}

#define KILN_GRID_STRIDE(e, total) \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (total); e += int64_t(gridDim.x) * blockDim.x)

// One thread per output (n, c, oh, ow): the first maximum of its window and where it is (NaN wins).
template <class T>
__global__ void max_pool2d_forward_kernel(Geometry g, Strides4 xs, const T* __restrict__ x, T* __restrict__ y,
                                          int64_t* __restrict__ argmax, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const int64_t xb = (plane / g.C) * xs.s[0] + (plane % g.C) * xs.s[1];
    T best = negative_infinity<T>();
    int64_t best_index = -1;
    for (int64_t i = 0; i < g.kH; ++i) {
      const int64_t h = oh * g.sH - g.pH + i * g.dH;
      if (h < 0 || h >= g.H) continue;
      for (int64_t j = 0; j < g.kW; ++j) {
        const int64_t w = ow * g.sW - g.pW + j * g.dW;
        if (w < 0 || w >= g.W) continue;
        const T v = x[xb + h * xs.s[2] + w * xs.s[3]];
        if (best_index < 0 || v > best || v != v) {
          best = v;
          best_index = h * g.W + w;
        }
      }
    }
    y[e] = best;
    argmax[e] = best_index;
  }
}

// One thread per input (n, c, h, w): Σ dy over the outputs whose saved argmax is this element. Only outputs
// with a window tap on it can be; taps are walked from the last to the first, i.e. outputs in increasing order.
template <class T>
__global__ void max_pool2d_backward_kernel(Geometry g, Strides4 ds, const T* __restrict__ dy,
                                           const int64_t* __restrict__ argmax, T* __restrict__ dx, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, plane = e / (g.W * g.H);
    const int64_t db = (plane / g.C) * ds.s[0] + (plane % g.C) * ds.s[1];
    const int64_t* am = argmax + plane * g.Ho * g.Wo;
    const int64_t target = h * g.W + w;
    double acc = 0;
    for (int64_t i = g.kH - 1; i >= 0; --i) {
      const int64_t th = h + g.pH - i * g.dH;  // = oh·sH
      if (th < 0 || th % g.sH != 0) continue;
      const int64_t oh = th / g.sH;
      if (oh >= g.Ho) continue;
      for (int64_t j = g.kW - 1; j >= 0; --j) {
        const int64_t tw = w + g.pW - j * g.dW;
        if (tw < 0 || tw % g.sW != 0) continue;
        const int64_t ow = tw / g.sW;
        if (ow >= g.Wo) continue;
        if (am[oh * g.Wo + ow] == target) acc += double(dy[db + oh * ds.s[2] + ow * ds.s[3]]);
      }
    }
    dx[e] = T(acc);
  }
}

// One thread per output: the window sum in double over the divisor.
template <class T>
__global__ void avg_pool2d_forward_kernel(Geometry g, bool count_include_pad, Strides4 xs, const T* __restrict__ x,
                                          T* __restrict__ y, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const int64_t xb = (plane / g.C) * xs.s[0] + (plane % g.C) * xs.s[1];
    const AvgWindow wh = avg_window(oh, g.H, g.kH, g.sH, g.pH), ww = avg_window(ow, g.W, g.kW, g.sW, g.pW);
    double sum = 0;
    for (int64_t h = wh.start; h < wh.end; ++h)
      for (int64_t w = ww.start; w < ww.end; ++w) sum += double(x[xb + h * xs.s[2] + w * xs.s[3]]);
    const int64_t divisor =
        count_include_pad ? wh.padded_len * ww.padded_len : (wh.end - wh.start) * (ww.end - ww.start);
    y[e] = T(sum / double(divisor));
  }
}

// One thread per input: Σ dy/divisor over the outputs whose clipped window holds it. Output oh's window
// starts at oh·sH − pH and spans kH, so oh runs over [⌊(h + pH − kH)/sH⌋ + 1, ⌊(h + pH)/sH⌋]; each candidate
// is checked against its clipped window all the same.
template <class T>
__global__ void avg_pool2d_backward_kernel(Geometry g, bool count_include_pad, Strides4 ds, const T* __restrict__ dy,
                                           T* __restrict__ dx, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, plane = e / (g.W * g.H);
    const int64_t db = (plane / g.C) * ds.s[0] + (plane % g.C) * ds.s[1];
    int64_t oh_lo = floor_div(h + g.pH - g.kH, g.sH) + 1, oh_hi = floor_div(h + g.pH, g.sH);
    int64_t ow_lo = floor_div(w + g.pW - g.kW, g.sW) + 1, ow_hi = floor_div(w + g.pW, g.sW);
    oh_lo = oh_lo > 0 ? oh_lo : 0;
    ow_lo = ow_lo > 0 ? ow_lo : 0;
    oh_hi = oh_hi < g.Ho - 1 ? oh_hi : g.Ho - 1;
    ow_hi = ow_hi < g.Wo - 1 ? ow_hi : g.Wo - 1;
    double acc = 0;
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const AvgWindow wh = avg_window(oh, g.H, g.kH, g.sH, g.pH);
      if (h < wh.start || h >= wh.end) continue;
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const AvgWindow ww = avg_window(ow, g.W, g.kW, g.sW, g.pW);
        if (w < ww.start || w >= ww.end) continue;
        const int64_t divisor =
            count_include_pad ? wh.padded_len * ww.padded_len : (wh.end - wh.start) * (ww.end - ww.start);
        acc += double(dy[db + oh * ds.s[2] + ow * ds.s[3]]) / double(divisor);
      }
    }
    dx[e] = T(acc);
  }
}

// One thread per output: the mean over its adaptive window.
template <class T>
__global__ void adaptive_avg_pool2d_forward_kernel(Geometry g, Strides4 xs, const T* __restrict__ x, T* __restrict__ y,
                                                   int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const int64_t xb = (plane / g.C) * xs.s[0] + (plane % g.C) * xs.s[1];
    const int64_t h0 = adaptive_start(oh, g.H, g.Ho), h1 = adaptive_end(oh, g.H, g.Ho);
    const int64_t w0 = adaptive_start(ow, g.W, g.Wo), w1 = adaptive_end(ow, g.W, g.Wo);
    double sum = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += double(x[xb + h * xs.s[2] + w * xs.s[3]]);
    y[e] = T(sum / double((h1 - h0) * (w1 - w0)));
  }
}

// One thread per input: Σ dy/area over the adaptive windows holding it. Window oh holds h exactly when
// ⌊h·Ho/H⌋ ≤ oh ≤ ⌈(h+1)·Ho/H⌉ − 1; the loop goes one wider on each side and checks each window.
template <class T>
__global__ void adaptive_avg_pool2d_backward_kernel(Geometry g, Strides4 ds, const T* __restrict__ dy,
                                                    T* __restrict__ dx, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, plane = e / (g.W * g.H);
    const int64_t db = (plane / g.C) * ds.s[0] + (plane % g.C) * ds.s[1];
    int64_t oh_lo = h * g.Ho / g.H - 1, oh_hi = ((h + 1) * g.Ho + g.H - 1) / g.H;
    int64_t ow_lo = w * g.Wo / g.W - 1, ow_hi = ((w + 1) * g.Wo + g.W - 1) / g.W;
    oh_lo = oh_lo > 0 ? oh_lo : 0;
    ow_lo = ow_lo > 0 ? ow_lo : 0;
    oh_hi = oh_hi < g.Ho - 1 ? oh_hi : g.Ho - 1;
    ow_hi = ow_hi < g.Wo - 1 ? ow_hi : g.Wo - 1;
    double acc = 0;
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const int64_t h0 = adaptive_start(oh, g.H, g.Ho), h1 = adaptive_end(oh, g.H, g.Ho);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const int64_t w0 = adaptive_start(ow, g.W, g.Wo), w1 = adaptive_end(ow, g.W, g.Wo);
        if (w < w0 || w >= w1) continue;
        acc += double(dy[db + oh * ds.s[2] + ow * ds.s[3]]) / double((h1 - h0) * (w1 - w0));
      }
    }
    dx[e] = T(acc);
  }
}

// One thread per output: a copy of its nearest source element.
template <class T>
__global__ void upsample_nearest2d_forward_kernel(Geometry g, Strides4 xs, const T* __restrict__ x, T* __restrict__ y,
                                                  int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const int64_t xb = (plane / g.C) * xs.s[0] + (plane % g.C) * xs.s[1];
    const int64_t h = nearest_source_index(oh, g.H, g.Ho, g.nearest_step_h);
    const int64_t w = nearest_source_index(ow, g.W, g.Wo, g.nearest_step_w);
    y[e] = x[xb + h * xs.s[2] + w * xs.s[3]];
  }
}

// One thread per input: Σ dy over the block of outputs whose nearest source it is (found by binary search).
template <class T>
__global__ void upsample_nearest2d_backward_kernel(Geometry g, Strides4 ds, const T* __restrict__ dy,
                                                   T* __restrict__ dx, int64_t total) {
  KILN_GRID_STRIDE(e, total) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, plane = e / (g.W * g.H);
    const int64_t db = (plane / g.C) * ds.s[0] + (plane % g.C) * ds.s[1];
    const int64_t oh_lo = first_nearest_dst(h, g.H, g.Ho, g.nearest_step_h),
                  oh_end = first_nearest_dst(h + 1, g.H, g.Ho, g.nearest_step_h);
    const int64_t ow_lo = first_nearest_dst(w, g.W, g.Wo, g.nearest_step_w),
                  ow_end = first_nearest_dst(w + 1, g.W, g.Wo, g.nearest_step_w);
    double acc = 0;
    for (int64_t oh = oh_lo; oh < oh_end; ++oh)
      for (int64_t ow = ow_lo; ow < ow_end; ++ow) acc += double(dy[db + oh * ds.s[2] + ow * ds.s[3]]);
    dx[e] = T(acc);
  }
}

#undef KILN_GRID_STRIDE

// Runs fn(T{}) for float32 or float64.
template <class F>
void dispatch_float(DType dtype, const char* op, F&& fn) {
  switch (dtype) {
    case DType::Float32:
      fn(float{});
      break;
    case DType::Float64:
      fn(double{});
      break;
    default:
      KILN_FAIL(op, ": dtype ", dtype_name(dtype), " is not supported on CUDA (float32 or float64 expected)");
  }
}

int64_t output_count(const Geometry& g) { return g.N * g.C * g.Ho * g.Wo; }
int64_t input_count(const Geometry& g) { return g.N * g.C * g.H * g.W; }

}  // namespace

void max_pool2d_forward(DType dtype, const Geometry& g, const void* x, const int64_t* x_strides, void* y,
                        int64_t* argmax) {
  const int64_t total = output_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(x_strides), static_cast<const T*>(x), static_cast<T*>(y), argmax, total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(DType dtype, const Geometry& g, const void* dy, const int64_t* dy_strides,
                         const int64_t* argmax, void* dx) {
  const int64_t total = input_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    max_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(dy_strides), static_cast<const T*>(dy), argmax, static_cast<T*>(dx), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void avg_pool2d_forward(DType dtype, const Geometry& g, bool count_include_pad, const void* x, const int64_t* x_strides,
                        void* y) {
  const int64_t total = output_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, count_include_pad, strides4(x_strides), static_cast<const T*>(x), static_cast<T*>(y), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void avg_pool2d_backward(DType dtype, const Geometry& g, bool count_include_pad, const void* dy,
                         const int64_t* dy_strides, void* dx) {
  const int64_t total = input_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, count_include_pad, strides4(dy_strides), static_cast<const T*>(dy), static_cast<T*>(dx), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_pool2d_forward(DType dtype, const Geometry& g, const void* x, const int64_t* x_strides, void* y) {
  const int64_t total = output_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(x_strides), static_cast<const T*>(x), static_cast<T*>(y), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_pool2d_backward(DType dtype, const Geometry& g, const void* dy, const int64_t* dy_strides, void* dx) {
  const int64_t total = input_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(dy_strides), static_cast<const T*>(dy), static_cast<T*>(dx), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void upsample_nearest2d_forward(DType dtype, const Geometry& g, const void* x, const int64_t* x_strides, void* y) {
  const int64_t total = output_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "upsample_nearest2d", [&](auto tag) {
    using T = decltype(tag);
    upsample_nearest2d_forward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(x_strides), static_cast<const T*>(x), static_cast<T*>(y), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void upsample_nearest2d_backward(DType dtype, const Geometry& g, const void* dy, const int64_t* dy_strides, void* dx) {
  const int64_t total = input_count(g);
  if (total == 0) return;
  dispatch_float(dtype, "upsample_nearest2d_backward", [&](auto tag) {
    using T = decltype(tag);
    upsample_nearest2d_backward_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(
        g, strides4(dy_strides), static_cast<const T*>(dy), static_cast<T*>(dx), total);
  });
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
