// Window arithmetic of the 2-D pooling and resampling ops, shared by the CPU reference kernels and
// the CUDA kernels: output sizes and where each output's window starts and ends in the input.
// Pure integer/float math on one axis at a time; no memory, no tensors.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln {

// ⌊a / b⌋ for b > 0 (C++ division truncates toward zero; PyTorch's shapes use floor).
KILN_HD int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Sliding-window output length, floor mode: ⌊(in + 2p − d·(k − 1) − 1) / s⌋ + 1 (PyTorch's formula).
KILN_HD int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return floor_div(in + 2 * pad - dilation * (kernel - 1) - 1, stride) + 1;
}

// Adaptive pooling window of output i (of `out`) over `in`: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉).
KILN_HD int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
KILN_HD int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// PyTorch's 'nearest' step: source pixels per output pixel, in float32 exactly as PyTorch computes it:
// 1/scale_factor when the caller was given a scale factor (> 0; nn.Upsample(scale_factor=...) passes it
// down), else in/out. The two differ for non-integer factors (in 5, factor 1.7: out 8, 1/1.7 vs 5/8).
inline float nearest_step(int64_t in, int64_t out, double scale_factor) {
  return scale_factor > 0 ? float(1.0 / scale_factor) : float(in) / float(out);
}

// PyTorch's 'nearest' source index: src = min(⌊dst·step⌋, in − 1) with the float32 step above (same-size
// and 2× are special-cased to exact copies/shifts, as PyTorch does). The float step can differ from the
// exact rational ⌊dst·in/out⌋ at odd sizes (in 2, out 82, dst 41 → 0, not 1); we keep PyTorch's answer so
// models match it.
KILN_HD int64_t nearest_source_index(int64_t dst, int64_t in, int64_t out, float step) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  int64_t src = int64_t(floorf(float(dst) * step));
  return src < in - 1 ? src : in - 1;
}

// The first output index dst in [0, out] whose nearest source index is ≥ target. The source index is
// non-decreasing in dst, so [first_nearest_dst(i), first_nearest_dst(i + 1)) are exactly the outputs
// that copy input i: the CUDA backward gathers its gradient over them, one thread per input.
KILN_HD int64_t first_nearest_dst(int64_t target, int64_t in, int64_t out, float step) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (nearest_source_index(mid, in, out, step) >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace kiln
