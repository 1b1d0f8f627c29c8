// The CPU fast paths of the row-wise kernels (softmax, the losses, layer and batch norm): the
// common contiguous layouts only, float32 in float with a vectorized e^x, float64 in exact double,
// rows spread over OpenMP threads. The public kernels (softmax.h, loss.h, norm.h) call these when
// the layout allows and the *_reference loops otherwise; tests compare the two.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/common/loss_math.h"

namespace kiln::cpu {

// Incremented once per call that takes a fast path (the tests check that it moves).
inline std::atomic<int64_t> fast_path_calls{0};

// The lines along `dim` of (shape, strides) are the rows of a row-major [rows, shape[dim]] array:
// every dim after `dim` has size 1 and every dim of size > 1 has its row-major stride.
inline bool lines_are_rows(const std::vector<int64_t>& shape, int64_t dim, const int64_t* strides) {
  int64_t expected = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    if (d > dim && shape[size_t(d)] != 1) return false;
    if (shape[size_t(d)] != 1 && strides[d] != expected) return false;
    expected *= shape[size_t(d)];
  }
  return true;
}

// Whether (shape, strides) lays its elements out contiguously in row-major order.
inline bool is_row_major(const std::vector<int64_t>& shape, const int64_t* strides) {
  return lines_are_rows(shape, int64_t(shape.size()) - 1, strides);
}

// y_i = e^{x_i} by the vectorized float32 approximation the fast paths use (vec_math.h's exp_f32,
// the same clone as theirs): for tests of its error bound and for the kernel lab.
void exp_f32_array(const float* x, float* y, int64_t n);

// softmax / log-softmax of `rows` contiguous rows of n elements (x and y [rows, n] row-major).
void softmax_forward_rows(bool log, DType dtype, int64_t rows, int64_t n, const void* x, void* y);
// Their backward from the saved output y (all three arrays [rows, n] row-major).
void softmax_backward_rows(bool log, DType dtype, int64_t rows, int64_t n, const void* y, const void* dy, void* dx);

// Cross-entropy over contiguous logits [N, C]; target, loss, lse are indexed p·stride (any stride).
// Same contract as cross_entropy_forward/backward (loss.h).
int64_t cross_entropy_forward_rows(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                                   int64_t target_stride, int64_t ignore_index, double label_smoothing, void* loss,
                                   int64_t loss_stride, void* lse, int64_t lse_stride);
void cross_entropy_backward_rows(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                                 int64_t target_stride, int64_t ignore_index, double label_smoothing, const void* lse,
                                 int64_t lse_stride, const void* dy, int64_t dy_stride, double scale, void* dlogits);

// The pointwise losses (loss.h) on n contiguous elements: the reference's per-element double math
// (bit-identical), without the strided walk and spread over OpenMP threads. dy_step is 1 (dy has n
// contiguous values) or 0 (one value for all, the loss was reduced).
void pointwise_loss_forward_flat(PointwiseLoss loss, DType dtype, int64_t n, const void* a, const void* b, void* out);
void pointwise_loss_backward_flat(PointwiseLoss loss, DType dtype, int64_t n, const void* a, const void* b,
                                  const void* dy, int64_t dy_step, double scale, void* da, void* db);

// Same contracts as the norm.h kernels of the same names without "_fast".
void layer_norm_forward_fast(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                             double eps, void* y, void* mean, void* rstd);
void layer_norm_backward_fast(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                              const void* rstd, const void* weight, void* dx, void* dweight, void* dbias);
void batch_norm_stats_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var);
void batch_norm_forward_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                             const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd);
void batch_norm_backward_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                              const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                              void* dweight, void* dbias);

}  // namespace kiln::cpu
