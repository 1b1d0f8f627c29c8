// CUDA 2-D convolution with the signatures of kernels/cpu/conv.h (so ops call either through
// KILN_DEVICE_CALL): cuDNN where kiln was built with it, it is enabled and it supports the case; otherwise
// im2col/col2im kernels + the CUDA GEMM (kernels/cuda/gemm.h), mirroring kernels/cpu/conv.cpp.
// Plain C++ header; defined in kernels/cuda/conv.cpp and conv_kernels.cu in CUDA builds.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv.h"

namespace kiln::cuda {

// col [C·kH·kW, out_h·out_w] of one image x [C, in_h, in_w], as cpu::im2col (0 in the padding).
template <class T>
void im2col(const cpu::Conv2dGeometry& g, int64_t channels, const T* x, T* col);
// The adjoint of im2col, as cpu::col2im: every x element is the sum of the col elements read from it.
template <class T>
void col2im(const cpu::Conv2dGeometry& g, int64_t channels, const T* col, T* x);

// As kiln::cpu::conv2d_forward / conv2d_backward_input / conv2d_backward_weight (contiguous device tensors).
template <class T>
void conv2d_forward(const cpu::Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv2d_backward_input(const cpu::Conv2dGeometry& g, const T* dy, const T* w, T* dx);
template <class T>
void conv2d_backward_weight(const cpu::Conv2dGeometry& g, const T* x, const T* dy, T* dw);

// y[n, c, :] += bias[c], and db[c] = Σ over n and spatial of dy[n, c, :] (accumulated in double, no atomics).
template <class T>
void add_channel_bias(int64_t batch, int64_t channels, int64_t spatial, const T* bias, T* y);
template <class T>
void sum_per_channel(int64_t batch, int64_t channels, int64_t spatial, const T* dy, T* db);

// Whether convolutions may use cuDNN (default: yes). Tests turn it off to run kiln's fallback kernels.
void set_cudnn_enabled(bool enabled);
// True when cuDNN is both built in and enabled.
bool cudnn_enabled();
// Whether this build has cuDNN at all.
bool cudnn_available();

}  // namespace kiln::cuda
