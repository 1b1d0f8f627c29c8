// CPU kernels for batch, layer and group normalization and dropout's mask. Every array is contiguous
// and of the given float dtype (statistics included); optional arrays (weight, bias, and the
// gradients not needed) are null. Layer norm, and batch norm on planes of at least
// kBatchNormFastMinPlane values, take the fast paths (rowwise_fast.h); the *_reference loops
// (sums accumulated in double) are what they are tested against. Compute only: no autograd.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/common/philox.h"

namespace kiln::cpu {

// Batch norm's fast path works plane by plane; below this plane size (S) the reference runs.
inline constexpr int64_t kBatchNormFastMinPlane = 16;

// ---- batch norm on x viewed as [N, C, S] (S = product of the spatial dims); statistics per channel.
// mean[c] and the biased var[c] over the N·S elements of channel c.
void batch_norm_stats(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var);
// y = (x − mean[c])·rstd[c]·weight[c] + bias[c] with rstd = 1/√(var + eps), written to rstd.
void batch_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                        const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd);
// batch_stats: mean/rstd are x's own batch statistics, so dx also flows through them
// (dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ); otherwise they are constants (dx = r·g).
// dweight[c] = Σ dy·x̂, dbias[c] = Σ dy.
void batch_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                         void* dweight, void* dbias);

// ---- layer norm on x viewed as [M, K]: statistics per row; weight/bias [K] per position in the row.
void layer_norm_forward(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                        double eps, void* y, void* mean, void* rstd);
void layer_norm_backward(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias);

// The plain reference loops of the kernels above, kept as what the fast paths are tested against.
void batch_norm_stats_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var);
void batch_norm_forward_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                                  const void* var, double eps, const void* weight, const void* bias, void* y,
                                  void* rstd);
void batch_norm_backward_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                                   const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                                   void* dweight, void* dbias);
void layer_norm_forward_reference(DType dtype, int64_t M, int64_t K, const void* x, const void* weight,
                                  const void* bias, double eps, void* y, void* mean, void* rstd);
void layer_norm_backward_reference(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                                   const void* rstd, const void* weight, void* dx, void* dweight, void* dbias);

// ---- group norm on x viewed as [N, C, S] with C split into G groups: statistics per (n, group)
// (mean/rstd [N·G]); weight/bias [C] per channel.
void group_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* weight,
                        const void* bias, double eps, void* y, void* mean, void* rstd);
void group_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, void* dx, void* dweight,
                         void* dbias);

// ---- dropout: mask[i] = 1/(1 − p) where element i of the Philox draw (seed, offset) is kept, else 0.
void dropout_mask(DType dtype, int64_t n, double p, philox::Args philox, void* mask);

}  // namespace kiln::cpu
