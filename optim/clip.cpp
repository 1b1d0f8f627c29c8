#include "optim/clip.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

// composite: total = (Σᵢ Σ |gᵢ|ᵖ)^(1/p) (p = ∞: max |g|) ;  g ← g · clamp_max(max_norm/(total + 1e-6), 1)
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  KILN_CHECK(!std::isnan(max_norm) && max_norm >= 0.0, "clip_grad_norm_: invalid max_norm ", max_norm);
  KILN_CHECK(norm_type > 0.0, "clip_grad_norm_: norm_type must be > 0 (or infinity), got ", norm_type);
  NoGradGuard no_grad;
  const bool inf = std::isinf(norm_type);
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return scalar_tensor(0.0);
  const DType dtype = grads[0].dtype();
  Tensor acc;  // Σ |g|ᵖ over all gradients (max |g| for p = ∞), 0-d
  for (const Tensor& g : grads) {
    Tensor part;
    if (inf)
      part = amax(abs(g));
    else if (norm_type == 2.0)
      part = sum(mul(g, g));
    else if (norm_type == 1.0)
      part = sum(abs(g));
    else
      part = sum(pow(abs(g), norm_type));
    if (part.dtype() != dtype) part = to_dtype(part, dtype);
    acc = !acc.defined() ? part : (inf ? maximum(acc, part) : add(acc, part));
  }
  Tensor total = inf || norm_type == 1.0 ? acc : (norm_type == 2.0 ? sqrt(acc) : pow(acc, 1.0 / norm_type));
  Tensor coef = clamp_max(max_norm / add(total, 1e-6), 1.0);
  for (Tensor g : grads) {  // handles: the in-place multiply writes the gradients themselves
    Tensor c = coef.dtype() == g.dtype() ? coef : to_dtype(coef, g.dtype());
    g.copy_(mul(g, c));
  }
  return total;
}

}  // namespace kiln
