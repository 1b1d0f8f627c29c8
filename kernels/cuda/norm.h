// CUDA kernels for batch, layer and group normalization and dropout's mask: the functions of
// kernels/cpu/norm.h with the same signatures (device pointers, contiguous arrays), plus the fused
// running-statistics update of batch norm. Plain C++ header (no CUDA includes). Compute only.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/common/philox.h"

namespace kiln::cuda {

void batch_norm_stats(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var);
void batch_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                        const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd);
void batch_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                         void* dweight, void* dbias);
// In place, for c < C: r_mean ← (1 − momentum)·r_mean + momentum·mean ;
// r_var ← (1 − momentum)·r_var + momentum·unbias·var. mean/var are contiguous of `dtype`; the running
// arrays are of `running_dtype` with element strides (they are the caller's buffers).
void batch_norm_update_running_stats(DType dtype, int64_t C, const void* mean, const void* var, double momentum,
                                     double unbias, DType running_dtype, void* running_mean, int64_t mean_stride,
                                     void* running_var, int64_t var_stride);

void layer_norm_forward(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                        double eps, void* y, void* mean, void* rstd);
void layer_norm_backward(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias);

void group_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* weight,
                        const void* bias, double eps, void* y, void* mean, void* rstd);
void group_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, void* dx, void* dweight,
                         void* dbias);

// Element i of the mask is kernels/common/norm_math.h's dropout_mask_value, as on the CPU: bit-identical.
void dropout_mask(DType dtype, int64_t n, double p, philox::Args philox, void* mask);

}  // namespace kiln::cuda
