// Fast paths of the losses (the reference loops are in loss.cpp). The pointwise losses: the same
// per-element double math over contiguous arrays, spread over threads. The fused softmax +
// cross-entropy over contiguous logits [N, C]: float32: max, Σx and Σe^{x−m} in float (blocked sums, vectorized exp_f32), the
// lse and the loss of each row in double; the backward writes (e^{x−lse} − ε/C)·g in one vectorized
// pass and recomputes the target's entry in double. float64: exact double math as the reference. Targets are checked
// on the calling thread before the rows are spread over OpenMP threads (no exception in a thread).
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "kernels/common/loss_math.h"
#include "kernels/cpu/rowwise_fast.h"
#include "kernels/cpu/vec_math.h"

namespace kiln::cpu {
namespace {

struct RowStats {
  double lse, x_sum;
};

KILN_MULTIVERSION void lse_rows_f32(const float* x, int64_t begin, int64_t end, int64_t C, RowStats* out) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    float m = max_f32(xr, C);
    if (m == -std::numeric_limits<float>::infinity()) m = 0;
    const double total = exp_sum_f32(xr, nullptr, C, m);
    out[r] = {double(m) + std::log(total), sum_f32(xr, C)};
  }
}

void lse_rows_f64(const double* x, int64_t begin, int64_t end, int64_t C, RowStats* out) {
  for (int64_t r = begin; r < end; ++r) {
    const double* xr = x + r * C;
    double m = -std::numeric_limits<double>::infinity(), x_sum = 0;
    for (int64_t c = 0; c < C; ++c) {
      m = (xr[c] > m || xr[c] != xr[c]) ? xr[c] : m;
      x_sum += xr[c];
    }
    if (m == -std::numeric_limits<double>::infinity()) m = 0;
    double total = 0;
    for (int64_t c = 0; c < C; ++c) total += std::exp(xr[c] - m);
    out[r] = {m + std::log(total), x_sum};
  }
}

// d_c = g·(e^{x_c − lse} − ε/C) for every class of one row (the target's −(1−ε)·g is added after).
KILN_MULTIVERSION void ce_grad_row_f32(const float* x, float* d, int64_t C, float lse, float g,
                                       float smooth_per_class) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) d[c] = g * (exp_f32(x[c] - lse) - smooth_per_class);
}

// Calls fn.template operator()<L>() with the loss kind as a compile-time constant.
template <class F>
void with_loss_kind(PointwiseLoss loss, F&& fn) {
  switch (loss) {
    case PointwiseLoss::BceWithLogits: return fn.template operator()<PointwiseLoss::BceWithLogits>();
    case PointwiseLoss::Mse: return fn.template operator()<PointwiseLoss::Mse>();
    case PointwiseLoss::GaussianKl: return fn.template operator()<PointwiseLoss::GaussianKl>();
  }
}

}  // namespace

void pointwise_loss_forward_flat(PointwiseLoss loss, DType dtype, int64_t n, const void* a, const void* b,
                                 void* out) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "loss", [&]<class T>() {
    with_loss_kind(loss, [&]<PointwiseLoss L>() {
      const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
      T* op = static_cast<T*>(out);
      for_row_blocks(n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) op[i] = T(pointwise_loss<L>(double(ap[i]), double(bp[i])));
      });
    });
  });
}

void pointwise_loss_backward_flat(PointwiseLoss loss, DType dtype, int64_t n, const void* a, const void* b,
                                  const void* dy, int64_t dy_step, double scale, void* da, void* db) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "loss backward", [&]<class T>() {
    with_loss_kind(loss, [&]<PointwiseLoss L>() {
      const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b), *gp = static_cast<const T*>(dy);
      T *dap = static_cast<T*>(da), *dbp = static_cast<T*>(db);
      for_row_blocks(n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          double ga = 0, gb = 0;
          const double g = double(gp[i * dy_step]) * scale;
          pointwise_loss_grad<L>(double(ap[i]), double(bp[i]), ga, gb);
          if (dap) dap[i] = T(ga * g);
          if (dbp) dbp[i] = T(gb * g);
        }
      });
    });
  });
}

int64_t cross_entropy_forward_rows(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                                   int64_t target_stride, int64_t ignore_index, double label_smoothing, void* loss,
                                   int64_t loss_stride, void* lse, int64_t lse_stride) {
  ++fast_path_calls;
  int64_t counted = 0;
  for (int64_t p = 0; p < N; ++p) {
    const int64_t t = target[p * target_stride];
    if (t == ignore_index) continue;
    KILN_CHECK(t >= 0 && t < C, "cross_entropy: target ", t, " is out of range for ", C, " classes (expected 0..",
               C - 1, " or ignore_index ", ignore_index, ")");
    ++counted;
  }
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy", [&]<class T>() {
    const T* xp = static_cast<const T*>(logits);
    T *lp = static_cast<T*>(loss), *sp = static_cast<T*>(lse);
    for_row_blocks(N, C, [&](int64_t begin, int64_t end) {
      constexpr int64_t kChunk = 64;  // row statistics a few rows at a time, on the stack
      RowStats stats[kChunk];
      for (int64_t b = begin; b < end; b += kChunk) {
        const int64_t e = end - b < kChunk ? end : b + kChunk;
        if constexpr (std::is_same_v<T, float>)
          lse_rows_f32(xp + b * C, 0, e - b, C, stats);
        else
          lse_rows_f64(xp + b * C, 0, e - b, C, stats);
        for (int64_t p = b; p < e; ++p) {
          const RowStats& s = stats[p - b];
          sp[p * lse_stride] = T(s.lse);
          const int64_t t = target[p * target_stride];
          lp[p * loss_stride] =
              t == ignore_index
                  ? T(0)
                  : T(cross_entropy_position<double>(s.lse, double(xp[p * C + t]), s.x_sum, C, label_smoothing));
        }
      }
    });
  });
  return counted;
}

void cross_entropy_backward_rows(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                                 int64_t target_stride, int64_t ignore_index, double label_smoothing, const void* lse,
                                 int64_t lse_stride, const void* dy, int64_t dy_stride, double scale, void* dlogits) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(logits), *sp = static_cast<const T*>(lse), *gp = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dlogits);
    for_row_blocks(N, C, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t t = target[p * target_stride];
        T* d = dp + p * C;
        const T* x = xp + p * C;
        if (t == ignore_index) {
          for (int64_t c = 0; c < C; ++c) d[c] = T(0);
          continue;
        }
        const double g = double(gp[p * dy_stride]) * scale, lse_p = double(sp[p * lse_stride]);
        if constexpr (std::is_same_v<T, float>) {
          ce_grad_row_f32(x, d, C, float(lse_p), float(g), float(label_smoothing / double(C)));
          // the target's entry in double: softmax_t − (1 − ε) cancels when the row is confident
          d[t] = float(g * cross_entropy_grad<double>(double(x[t]), lse_p, true, C, label_smoothing));
        } else {
          for (int64_t c = 0; c < C; ++c)
            d[c] = g * cross_entropy_grad<double>(x[c], lse_p, c == t, C, label_smoothing);
        }
      }
    });
  });
}

}  // namespace kiln::cpu
