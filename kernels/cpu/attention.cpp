#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace kiln::cpu {
namespace {

// The number of keys query row i may see.
int64_t visible_keys(int64_t i, int64_t Tk, bool causal) { return causal ? std::min(i + 1, Tk) : Tk; }

// s[j] = scale·(q_row · k_j) for the first `n` keys, in double.
template <class T>
void score_row(const T* q_row, const T* kb, int64_t n, int64_t D, double scale, std::vector<double>& s) {
  for (int64_t j = 0; j < n; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += double(q_row[d]) * double(kb[j * D + d]);
    s[j] = scale * dot;
  }
}

}  // namespace

void attention_forward(DType dtype, const AttentionShape& sh, const void* q, const void* k, const void* v,
                       double scale, bool causal, void* out, void* lse) {
  KILN_DISPATCH_FLOAT(dtype, "scaled_dot_product_attention", [&]<class T>() {
    const T *qp = static_cast<const T*>(q), *kp = static_cast<const T*>(k), *vp = static_cast<const T*>(v);
    T *op = static_cast<T*>(out), *lp = static_cast<T*>(lse);
    const auto [B, Tq, Tk, D, Dv] = sh;
    std::vector<double> s(static_cast<size_t>(Tk)), o(static_cast<size_t>(Dv));
    for (int64_t b = 0; b < B; ++b) {
      const T *kb = kp + b * Tk * D, *vb = vp + b * Tk * Dv;
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t row = b * Tq + i, n = visible_keys(i, Tk, causal);
        score_row(qp + row * D, kb, n, D, scale, s);
        // softmax with the row maximum subtracted, so exp never overflows
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (int64_t j = 0; j < n; ++j) m = std::max(m, s[j]);
        for (int64_t j = 0; j < n; ++j) z += std::exp(s[j] - m);
        std::fill(o.begin(), o.end(), 0.0);
        for (int64_t j = 0; j < n; ++j) {
          const double p = std::exp(s[j] - m) / z;
          for (int64_t e = 0; e < Dv; ++e) o[e] += p * double(vb[j * Dv + e]);
        }
        for (int64_t e = 0; e < Dv; ++e) op[row * Dv + e] = T(o[e]);
        lp[row] = n > 0 ? T(m + std::log(z)) : T(-std::numeric_limits<double>::infinity());
      }
    }
  });
}

void attention_backward(DType dtype, const AttentionShape& sh, const void* q, const void* k, const void* v,
                        const void* /*out*/, const void* lse, const void* dout, double scale, bool causal, void* dq,
                        void* dk, void* dv) {
  KILN_DISPATCH_FLOAT(dtype, "scaled_dot_product_attention backward", [&]<class T>() {
    const T *qp = static_cast<const T*>(q), *kp = static_cast<const T*>(k), *vp = static_cast<const T*>(v);
    const T *lp = static_cast<const T*>(lse), *dop = static_cast<const T*>(dout);
    T *dqp = static_cast<T*>(dq), *dkp = static_cast<T*>(dk), *dvp = static_cast<T*>(dv);
    const auto [B, Tq, Tk, D, Dv] = sh;
    std::vector<double> s(static_cast<size_t>(Tk)), dp(static_cast<size_t>(Tk)), dq_row(static_cast<size_t>(D));
    std::vector<double> dk_acc(static_cast<size_t>(Tk * D)), dv_acc(static_cast<size_t>(Tk * Dv));  // summed over the query rows
    for (int64_t b = 0; b < B; ++b) {
      const T *kb = kp + b * Tk * D, *vb = vp + b * Tk * Dv;
      std::fill(dk_acc.begin(), dk_acc.end(), 0.0);
      std::fill(dv_acc.begin(), dv_acc.end(), 0.0);
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t row = b * Tq + i, n = visible_keys(i, Tk, causal);
        const T *q_row = qp + row * D, *do_row = dop + row * Dv;
        score_row(q_row, kb, n, D, scale, s);
        const double l = double(lp[row]);
        // P from the saved log-sum-exp; dP = dO·Vᵀ; rowsum(dP∘P)
        double row_dot = 0;
        for (int64_t j = 0; j < n; ++j) {
          s[j] = std::exp(s[j] - l);  // s now holds P
          double acc = 0;
          for (int64_t e = 0; e < Dv; ++e) acc += double(do_row[e]) * double(vb[j * Dv + e]);
          dp[j] = acc;
          row_dot += acc * s[j];
        }
        std::fill(dq_row.begin(), dq_row.end(), 0.0);
        for (int64_t j = 0; j < n; ++j) {
          const double p = s[j], ds = p * (dp[j] - row_dot);
          for (int64_t e = 0; e < Dv; ++e) dv_acc[j * Dv + e] += p * double(do_row[e]);
          for (int64_t d = 0; d < D; ++d) {
            dq_row[d] += scale * ds * double(kb[j * D + d]);
            dk_acc[j * D + d] += scale * ds * double(q_row[d]);
          }
        }
        if (dqp)
          for (int64_t d = 0; d < D; ++d) dqp[row * D + d] = T(dq_row[d]);
      }
      if (dkp)
        for (int64_t x = 0; x < Tk * D; ++x) dkp[b * Tk * D + x] = T(dk_acc[x]);
      if (dvp)
        for (int64_t x = 0; x < Tk * Dv; ++x) dvp[b * Tk * Dv + x] = T(dv_acc[x]);
    }
  });
}

}  // namespace kiln::cpu
