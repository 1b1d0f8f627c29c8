#include "kernels/cpu/loss.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape.h"
#include "kernels/cpu/line_loop.h"
#include "kernels/cpu/rowwise_fast.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {
namespace {

// Calls fn.template operator()<L>() with the loss kind as a compile-time constant.
template <class F>
void dispatch_loss(PointwiseLoss loss, F&& fn) {
  switch (loss) {
    case PointwiseLoss::BceWithLogits: return fn.template operator()<PointwiseLoss::BceWithLogits>();
    case PointwiseLoss::Mse: return fn.template operator()<PointwiseLoss::Mse>();
    case PointwiseLoss::GaussianKl: return fn.template operator()<PointwiseLoss::GaussianKl>();
  }
}

}  // namespace

// The pointwise losses take the flat fast path when a and b are contiguous (and dy is contiguous or
// one broadcast value).
void pointwise_loss_forward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides, void* out) {
  if (is_row_major(shape, a_strides) && is_row_major(shape, b_strides))
    return pointwise_loss_forward_flat(loss, dtype, shape_numel(shape), a, b, out);
  pointwise_loss_forward_reference(loss, dtype, shape, a, a_strides, b, b_strides, out);
}

void pointwise_loss_backward(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape, const void* a,
                             const int64_t* a_strides, const void* b, const int64_t* b_strides, const void* dy,
                             const int64_t* dy_strides, double scale, void* da, void* db) {
  bool dy_scalar = true;
  for (size_t d = 0; d < shape.size(); ++d) dy_scalar = dy_scalar && (dy_strides[d] == 0 || shape[d] == 1);
  if (is_row_major(shape, a_strides) && is_row_major(shape, b_strides) &&
      (dy_scalar || is_row_major(shape, dy_strides)))
    return pointwise_loss_backward_flat(loss, dtype, shape_numel(shape), a, b, dy, dy_scalar ? 0 : 1, scale, da, db);
  pointwise_loss_backward_reference(loss, dtype, shape, a, a_strides, b, b_strides, dy, dy_strides, scale, da, db);
}

void pointwise_loss_forward_reference(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape,
                                      const void* a, const int64_t* a_strides, const void* b,
                                      const int64_t* b_strides, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "loss", [&]<class T>() {
    dispatch_loss(loss, [&]<PointwiseLoss L>() {
      const T* ap = static_cast<const T*>(a);
      const T* bp = static_cast<const T*>(b);
      T* op = static_cast<T*>(out);
      int64_t i = 0;
      for_each_strided<2>(shape, {a_strides, b_strides}, [&](const std::array<int64_t, 2>& o) {
        op[i++] = T(pointwise_loss<L>(double(ap[o[0]]), double(bp[o[1]])));
      });
    });
  });
}

void pointwise_loss_backward_reference(PointwiseLoss loss, DType dtype, const std::vector<int64_t>& shape,
                                       const void* a, const int64_t* a_strides, const void* b,
                                       const int64_t* b_strides, const void* dy, const int64_t* dy_strides,
                                       double scale, void* da, void* db) {
  KILN_DISPATCH_FLOAT(dtype, "loss backward", [&]<class T>() {
    dispatch_loss(loss, [&]<PointwiseLoss L>() {
      const T* ap = static_cast<const T*>(a);
      const T* bp = static_cast<const T*>(b);
      const T* gp = static_cast<const T*>(dy);
      T* dap = static_cast<T*>(da);
      T* dbp = static_cast<T*>(db);
      int64_t i = 0;
      for_each_strided<3>(shape, {a_strides, b_strides, dy_strides}, [&](const std::array<int64_t, 3>& o) {
        double ga = 0, gb = 0, g = double(gp[o[2]]) * scale;
        pointwise_loss_grad<L>(double(ap[o[0]]), double(bp[o[1]]), ga, gb);
        if (dap) dap[i] = T(ga * g);
        if (dbp) dbp[i] = T(gb * g);
        ++i;
      });
    });
  });
}

// The fast path handles 2-d logits [N, C] whose rows are contiguous (the common classifier layout).
int64_t cross_entropy_forward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                              const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                              int64_t ignore_index, double label_smoothing, void* loss, const int64_t* loss_strides,
                              void* lse, const int64_t* lse_strides) {
  if (shape.size() == 2 && shape[1] > 0 && lines_are_rows(shape, 1, logit_strides))
    return cross_entropy_forward_rows(dtype, shape[0], shape[1], logits, target, target_strides[0], ignore_index,
                                      label_smoothing, loss, loss_strides[0], lse, lse_strides[0]);
  return cross_entropy_forward_reference(dtype, shape, logits, logit_strides, target, target_strides, ignore_index,
                                         label_smoothing, loss, loss_strides, lse, lse_strides);
}

void cross_entropy_backward(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                            const int64_t* logit_strides, const int64_t* target, const int64_t* target_strides,
                            int64_t ignore_index, double label_smoothing, const void* lse, const int64_t* lse_strides,
                            const void* dy, const int64_t* dy_strides, double scale, void* dlogits) {
  if (shape.size() == 2 && shape[1] > 0 && lines_are_rows(shape, 1, logit_strides))
    return cross_entropy_backward_rows(dtype, shape[0], shape[1], logits, target, target_strides[0], ignore_index,
                                       label_smoothing, lse, lse_strides[0], dy, dy_strides[0], scale, dlogits);
  cross_entropy_backward_reference(dtype, shape, logits, logit_strides, target, target_strides, ignore_index,
                                   label_smoothing, lse, lse_strides, dy, dy_strides, scale, dlogits);
}

int64_t cross_entropy_forward_reference(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                                        const int64_t* logit_strides, const int64_t* target,
                                        const int64_t* target_strides, int64_t ignore_index, double label_smoothing,
                                        void* loss, const int64_t* loss_strides, void* lse, const int64_t* lse_strides) {
  int64_t counted = 0;
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy", [&]<class T>() {
    const T* xp = static_cast<const T*>(logits);
    T* lp = static_cast<T*>(loss);
    T* sp = static_cast<T*>(lse);
    const int64_t classes = shape[1], xs = logit_strides[1];
    for_each_line<4>(shape, 1, {logit_strides, target_strides, loss_strides, lse_strides},
                     [&](const std::array<int64_t, 4>& o) {
      const T* x = xp + o[0];
      double m = -std::numeric_limits<double>::infinity(), x_sum = 0;
      for (int64_t c = 0; c < classes; ++c) {
        double v = double(x[c * xs]);
        m = (v > m || v != v) ? v : m;
        x_sum += v;
      }
      if (m == -std::numeric_limits<double>::infinity()) m = 0;
      double total = 0;
      for (int64_t c = 0; c < classes; ++c) total += std::exp(double(x[c * xs]) - m);
      double lse_p = m + std::log(total);
      sp[o[3]] = T(lse_p);
      int64_t t = target[o[1]];
      if (t == ignore_index) {
        lp[o[2]] = T(0);
        return;
      }
      KILN_CHECK(t >= 0 && t < classes, "cross_entropy: target ", t, " is out of range for ", classes,
                 " classes (expected 0..", classes - 1, " or ignore_index ", ignore_index, ")");
      lp[o[2]] = T(cross_entropy_position<double>(lse_p, double(x[t * xs]), x_sum, classes, label_smoothing));
      ++counted;
    });
  });
  return counted;
}

void cross_entropy_backward_reference(DType dtype, const std::vector<int64_t>& shape, const void* logits,
                                      const int64_t* logit_strides, const int64_t* target,
                                      const int64_t* target_strides, int64_t ignore_index, double label_smoothing,
                                      const void* lse, const int64_t* lse_strides, const void* dy,
                                      const int64_t* dy_strides, double scale, void* dlogits) {
  KILN_DISPATCH_FLOAT(dtype, "cross_entropy backward", [&]<class T>() {
    const T* xp = static_cast<const T*>(logits);
    const T* sp = static_cast<const T*>(lse);
    const T* gp = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dlogits);
    Strides d_strides = contiguous_strides(shape);
    const int64_t classes = shape[1], xs = logit_strides[1], ds = d_strides[1];
    for_each_line<5>(shape, 1, {logit_strides, target_strides, lse_strides, dy_strides, d_strides.data()},
                     [&](const std::array<int64_t, 5>& o) {
      int64_t t = target[o[1]];
      T* d = dp + o[4];
      if (t == ignore_index) {
        for (int64_t c = 0; c < classes; ++c) d[c * ds] = T(0);
        return;
      }
      double g = double(gp[o[3]]) * scale, lse_p = double(sp[o[2]]);
      for (int64_t c = 0; c < classes; ++c)
        d[c * ds] = T(g * cross_entropy_grad<double>(double(xp[o[0] + c * xs]), lse_p, c == t, classes, label_smoothing));
    });
  });
}

}  // namespace kiln::cpu
