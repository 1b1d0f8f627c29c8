// CUDA versions of kernels/cpu/loss.h: the pointwise losses (same signatures) and the fused
// softmax + cross-entropy. All pointers are device memory. cross_entropy_forward differs from the
// CPU's in one way: counting the non-ignored positions on the host would need a device sync, so it
// writes valid_p (1 counted, 0 ignored) instead and the op sums that on the device.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/loss_math.h"

namespace kiln::cuda {

void pointwise_loss_forward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides, void* out);
void pointwise_loss_backward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides, double scale, void* da, void* db);

// As cpu::cross_entropy_forward, plus valid_p (dtype of the logits, strides like loss). A target that
// is neither ignore_index nor in [0, C) cannot throw without a sync: its loss is NaN (and counted),
// and cross_entropy_backward writes NaN over its row of dlogits.
void cross_entropy_forward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                           const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                           int64_t ignore_index, double label_smoothing, void* loss, const int64_t* loss_strides,
                           void* lse, const int64_t* lse_strides, void* valid, const int64_t* valid_strides);
void cross_entropy_backward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                            const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                            int64_t ignore_index, double label_smoothing, const void* lse, const int64_t* lse_strides,
                            const void* dy, const int64_t* dy_strides, double scale, void* dlogits);

}  // namespace kiln::cuda
