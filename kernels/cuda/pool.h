// CUDA kernels for 2-D pooling and nearest upsampling, with the signatures and exactly the window, tie and
// index rules of kernels/cpu/pool.h (strided [N, C, H, W] inputs, contiguous outputs, sums in double).
// Backward passes gather: one thread per input element sums the outputs that read it (no atomics).
// Plain C++ header; defined in kernels/cuda/pool.cu in CUDA builds.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/pool.h"

namespace kiln::cuda {

void max_pool2d_forward(DType dtype, const cpu::Pool2dGeometry& g, const void* x, const int64_t* x_strides, void* y,
                        int64_t* argmax);
void max_pool2d_backward(DType dtype, const cpu::Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                         const int64_t* argmax, void* dx);

void avg_pool2d_forward(DType dtype, const cpu::Pool2dGeometry& g, bool count_include_pad, const void* x,
                        const int64_t* x_strides, void* y);
void avg_pool2d_backward(DType dtype, const cpu::Pool2dGeometry& g, bool count_include_pad, const void* dy,
                         const int64_t* dy_strides, void* dx);

void adaptive_avg_pool2d_forward(DType dtype, const cpu::Pool2dGeometry& g, const void* x, const int64_t* x_strides,
                                 void* y);
void adaptive_avg_pool2d_backward(DType dtype, const cpu::Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                                  void* dx);

void upsample_nearest2d_forward(DType dtype, const cpu::Pool2dGeometry& g, const void* x, const int64_t* x_strides,
                                void* y);
void upsample_nearest2d_backward(DType dtype, const cpu::Pool2dGeometry& g, const void* dy, const int64_t* dy_strides,
                                 void* dx);

}  // namespace kiln::cuda
