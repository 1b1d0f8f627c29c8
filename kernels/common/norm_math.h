// The per-element math of batch, layer and group normalization and of dropout, shared by the CPU
// reference kernels and (later) the CUDA kernels. Reductions (means over a group) are the caller's
// job; these functions only combine already-reduced numbers.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/philox.h"

namespace kiln {

// 1/√(var + eps), var being the biased variance of the group (as PyTorch normalizes).
KILN_HD double norm_rstd(double var, double eps) { return 1.0 / ::sqrt(var + eps); }

// dx of a normalization x̂ = (x − μ)·r over a group of n elements, when μ and r are the group's own
// statistics: with g = dy·γ,  dx = r·(g − mean(g) − x̂·mean(g·x̂)).
KILN_HD double norm_input_grad(double rstd, double g, double mean_g, double xhat, double mean_g_xhat) {
  return rstd * (g - mean_g - xhat * mean_g_xhat);
}

// Dropout's scaled keep mask for element i of a draw at Philox block `offset`: the element is kept
// when its uniform u ∈ [0, 1) (the same number kiln::rand gives) is below 1 − p; kept elements are
// scaled by 1/(1 − p). p = 1 drops everything.
template <class T>
KILN_HD T dropout_mask_value(uint64_t seed, uint64_t offset, int64_t i, double p) {
  if (p >= 1.0) return T(0);
  double u = double(philox::to_uniform<T>(philox::word(seed, offset, i)));
  return u < 1.0 - p ? T(1.0 / (1.0 - p)) : T(0);
}

}  // namespace kiln
