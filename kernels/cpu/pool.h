// CPU kernels for 2-D pooling and nearest upsampling over N·C planes. Inputs are strided [N, C, H, W] views
// (four strides); outputs and input gradients are contiguous; gradients sum in double. Max and average
// pooling have a fast path (the entry points) and the plain loops (*_reference) the tests compare it with;
// both give bit-identical results. Compute only: no tensors, no autograd, no argument checks (the ops in
// core/ops/pool.cpp check).
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kiln::cpu {

// N·C planes of H×W input and Ho×Wo output; kernel, stride, padding and dilation per axis.
struct Pool2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  int64_t kH = 1, kW = 1, sH = 1, sW = 1, pH = 0, pW = 0, dH = 1, dW = 1;
  float nearest_step_h = 1, nearest_step_w = 1;  // upsample_nearest2d: nearest_step() of each axis
};

// ---- The entry points (the fast path): OpenMP across planes, window bounds computed once per output
// row/column instead of per tap, a one-pass 2×2 stride-2 kernel, and backward passes that write each
// plane directly (non-overlapping windows) or through one plane-sized double buffer per thread.
// y = max over each (dilated, padded) window; argmax = h·W + w of the first maximum in its plane
// (−1 if the window holds no input element); NaN wins, as in PyTorch.
void max_pool2d_forward(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* x_strides, void* y,
                        int64_t* argmax);
// dx = 0; dx[plane][argmax] += dy for every output.
void max_pool2d_backward(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                         const int64_t* argmax, void* dx);

// y = Σ window / divisor; divisor = window area counting padding (count_include_pad) or only the
// input elements it covers.
void avg_pool2d_forward(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* x,
                        const int64_t* x_strides, void* y);
void avg_pool2d_backward(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* dy,
                         const int64_t* dy_strides, void* dx);

// ---- The plain reference loops, same contracts (kernels/cpu/pool.cpp).
void max_pool2d_forward_reference(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* x_strides,
                                  void* y, int64_t* argmax);
void max_pool2d_backward_reference(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                                   const int64_t* argmax, void* dx);
void avg_pool2d_forward_reference(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* x,
                                  const int64_t* x_strides, void* y);
void avg_pool2d_backward_reference(DType dtype, const Pool2dGeometry& g, bool count_include_pad, const void* dy,
                                   const int64_t* dy_strides, void* dx);

// Windows [⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉) × [⌊j·W/Wo⌋, ⌈(j+1)·W/Wo⌉); kernel/stride/padding fields unused.
void adaptive_avg_pool2d_forward(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* x_strides,
                                 void* y);
void adaptive_avg_pool2d_backward(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                                  void* dx);

// y[i][j] = x[src(i)][src(j)] with PyTorch's 'nearest' source index (nearest_source_index with the
// geometry's steps); backward sums dy into the sources.
void upsample_nearest2d_forward(DType dtype, const Pool2dGeometry& g, const void* x, const int64_t* x_strides,
                                void* y);
void upsample_nearest2d_backward(DType dtype, const Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                                 void* dx);

}  // namespace kiln::cpu
