// Index arithmetic of 2-D convolution, shared by the CPU reference kernels and future CUDA kernels:
// output sizes (exactly PyTorch's formulas) and where a kernel tap of an output position reads the input.
#pragma once
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln {

// conv2d along one dim: out = ⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1
KILN_HD int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// conv_transpose2d along one dim: out = (in − 1)·stride − 2·pad + dil·(k − 1) + output_padding + 1
KILN_HD int64_t conv_transpose_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                        int64_t output_padding) {
  return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1;
}

// The input row (or column) that kernel tap `tap` of output position `out` reads; outside [0, in) is padding.
KILN_HD int64_t conv_input_index(int64_t out, int64_t tap, int64_t stride, int64_t pad, int64_t dilation) {
  return out * stride - pad + tap * dilation;
}

}  // namespace kiln
