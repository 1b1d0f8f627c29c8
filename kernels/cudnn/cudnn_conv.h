// cuDNN's 2-D convolutions (forward, backward data, backward filter) for the CUDA conv kernels of
// kernels/cuda/conv.cpp. Each returns false when cuDNN cannot run the case (kiln built without cuDNN,
// sizes beyond its int limits, no usable algorithm, CUDNN_STATUS_NOT_SUPPORTED); the caller then falls back
// to im2col + GEMM. Plain C++ header; defined in kernels/cudnn/cudnn_conv.cpp in CUDA builds.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/conv.h"

namespace kiln::cuda {

// y = conv2d(x, w) without bias (overwrites y). Contiguous NCHW device tensors of `dtype` (float32/float64).
bool cudnn_conv2d_forward(const cpu::Conv2dGeometry& g, DType dtype, const void* x, const void* w, void* y);
// dx = the adjoint of conv2d in its input applied to dy (overwrites dx).
bool cudnn_conv2d_backward_data(const cpu::Conv2dGeometry& g, DType dtype, const void* dy, const void* w, void* dx);
// dw = Σ over images of dy ⋆ x (overwrites dw).
bool cudnn_conv2d_backward_filter(const cpu::Conv2dGeometry& g, DType dtype, const void* x, const void* dy, void* dw);

// How many convolution passes cuDNN has run in this process (0 without cuDNN): lets tests check that an
// enabled cuDNN is really used rather than silently falling back.
int64_t cudnn_conv_passes_run();

}  // namespace kiln::cuda
