// CPU kernels for the losses: the pointwise ones (BCE with logits, MSE, Gaussian KL) and the fused
// softmax + cross-entropy. Contiguous operands (for cross-entropy: 2-d logits [N, C] with contiguous
// rows) take the fast paths (rowwise_fast.h), other layouts the *_reference loops. Per-element math lives in kernels/common/loss_math.h.
// Compute only: no tensors, no autograd; outputs are contiguous, inputs strided.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/loss_math.h"

namespace kiln::cpu {

// out_i = ℓ(a_i, b_i) for every element of `shape`.
void pointwise_loss_forward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides, void* out);
// da_i = ∂ℓ/∂a·dy_i·scale and db_i = ∂ℓ/∂b·dy_i·scale (either may be null: not needed). dy is strided
// over `shape` (all strides 0 when the loss was reduced to one number).
void pointwise_loss_backward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides, double scale, void* da, void* db);

// Cross-entropy over the class dim 1 of logits `shape` [N, C, d...]. Every other index is a position p;
// target, loss and lse are indexed with full-rank strides whose class-dim stride is 0. Writes
// loss_p (0 where target_p = ignore_index) and lse_p = ln Σ_c e^{x_{p,c}}; returns how many positions
// are not ignored. Throws when a target is neither ignore_index nor in [0, C).
int64_t cross_entropy_forward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                              const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                              int64_t ignore_index, double label_smoothing, void* loss, const int64_t* loss_strides,
                              void* lse, const int64_t* lse_strides);
// dlogits (contiguous) = (softmax − (1 − ε)·onehot(t) − ε/C)·dy_p·scale, 0 at ignored positions.
void cross_entropy_backward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                            const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                            int64_t ignore_index, double label_smoothing, const void* lse, const int64_t* lse_strides,
                            const void* dy, const int64_t* dy_strides, double scale, void* dlogits);

// The plain reference loops (any strides, any rank), kept as what the fast paths are tested against.
void pointwise_loss_forward_reference(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape,
                                      const void* a, const int64_t* a_strides, const void* b,
                                      const int64_t* b_strides, void* out);
void pointwise_loss_backward_reference(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape,
                                       const void* a, const int64_t* a_strides, const void* b,
                                       const int64_t* b_strides, const void* dy, const int64_t* dy_strides,
                                       double scale, void* da, void* db);
int64_t cross_entropy_forward_reference(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                                        const int64_t* logit_strides, const int64_t* target,
                                        const int64_t* target_strides, int64_t ignore_index, double label_smoothing,
                                        void* loss, const int64_t* loss_strides, void* lse, const int64_t* lse_strides);
void cross_entropy_backward_reference(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                                      const int64_t* logit_strides, const int64_t* target,
                                      const int64_t* target_strides, int64_t ignore_index, double label_smoothing,
                                      const void* lse, const int64_t* lse_strides, const void* dy,
                                      const int64_t* dy_strides, double scale, void* dlogits);

}  // namespace kiln::cpu
