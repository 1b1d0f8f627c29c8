// Gradient clipping, like torch.nn.utils.clip_grad_norm_.
#pragma once
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace kiln {

// Scales the gradients of `params` in place so that their joint norm is at most max_norm:
//   total = ‖(‖g₁‖ₚ, ‖g₂‖ₚ, …)‖ₚ ;  g ← g · min(1, max_norm / (total + 1e-6))
// norm_type p > 0 or infinity (max |g|). Parameters without a gradient are skipped. Returns the total
// norm (before clipping) as a 0-d tensor on the gradients' device, without a host sync (the coefficient
// is clamped on the device and always multiplied in). No gradients: returns 0.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

}  // namespace kiln
