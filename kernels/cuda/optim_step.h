// CUDA kernels of the fused optimizer step and weight EMA: the functions of kernels/cpu/optim_step.h
// with the same signatures (device pointers, contiguous arrays). Each call updates all its tensors in one
// launch per 58 (Adam, float64) to 144 (EMA) tensors: multi_tensor_apply.cuh. Plain C++ header. Compute only.
#pragma once
#include <vector>

#include "core/dtype.h"
#include "kernels/common/optim_math.h"

namespace kiln::cuda {

void sgd_step(DType dtype, const std::vector<SgdTensor>& tensors, const SgdHyperparams& hyper);
void adam_step(DType dtype, const std::vector<AdamTensor>& tensors, const AdamHyperparams& hyper);
void ema_step(DType dtype, const std::vector<EmaTensor>& tensors, double weight);
// Writes a step's scalars (kernels/common/optim_math.h, step_scalars) to device memory on the current
// stream, before a CUDA graph's replay; the values travel in kernel arguments (no host buffer to keep).
void write_step_scalars(double* dst, const std::vector<double>& values);

}  // namespace kiln::cuda
