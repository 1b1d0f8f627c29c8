// CPU kernels of the fused optimizer step and weight EMA: one call updates every tensor of a list
// (one dtype), element by element with the math of kernels/common/optim_math.h. Compute only: no
// autograd, no allocation; the caller creates state buffers and computes the per-tensor scalars.
#pragma once
#include <vector>

#include "core/dtype.h"
#include "kernels/common/optim_math.h"

namespace kiln::cpu {

void sgd_step(DType dtype, const std::vector<SgdTensor>& tensors, const SgdHyperparams& hyper);
void adam_step(DType dtype, const std::vector<AdamTensor>& tensors, const AdamHyperparams& hyper);
// ema ← lerp(ema, p, weight) with weight = 1 − decay.
void ema_step(DType dtype, const std::vector<EmaTensor>& tensors, double weight);

}  // namespace kiln::cpu
