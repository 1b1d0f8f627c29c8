#include "kernels/cpu/norm.h"

#include <vector>

#include "core/error.h"
#include "kernels/common/norm_math.h"
#include "kernels/cpu/rowwise_fast.h"

namespace kiln::cpu {
namespace {

// The optional per-position affine parameters: γ = 1 and β = 0 when absent.
template <class T>
double weight_at(const T* w, int64_t i) {
  return w ? double(w[i]) : 1.0;
}
template <class T>
double bias_at(const T* b, int64_t i) {
  return b ? double(b[i]) : 0.0;
}

// Mean and biased variance of n contiguous values, in two passes (the mean, then Σ(x − μ)²), which
// stays accurate when |μ| ≫ σ.
struct MeanVar {
  double mean, var;
};
template <class T>
MeanVar mean_var(const T* p, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(p[i]);
  const double mu = s / double(n);
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += (double(p[i]) - mu) * (double(p[i]) - mu);
  return {mu, ss / double(n)};
}

}  // namespace

// ------------------------------------------------------------------------------------ dispatch

void batch_norm_stats(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var) {
  if (S >= kBatchNormFastMinPlane) return batch_norm_stats_fast(dtype, N, C, S, x, mean, var);
  batch_norm_stats_reference(dtype, N, C, S, x, mean, var);
}

void batch_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                        const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd) {
  if (S >= kBatchNormFastMinPlane)
    return batch_norm_forward_fast(dtype, N, C, S, x, mean, var, eps, weight, bias, y, rstd);
  batch_norm_forward_reference(dtype, N, C, S, x, mean, var, eps, weight, bias, y, rstd);
}

void batch_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                         void* dweight, void* dbias) {
  if (S >= kBatchNormFastMinPlane)
    return batch_norm_backward_fast(dtype, N, C, S, x, dy, mean, rstd, weight, batch_stats, dx, dweight, dbias);
  batch_norm_backward_reference(dtype, N, C, S, x, dy, mean, rstd, weight, batch_stats, dx, dweight, dbias);
}

void layer_norm_forward(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                        double eps, void* y, void* mean, void* rstd) {
  layer_norm_forward_fast(dtype, M, K, x, weight, bias, eps, y, mean, rstd);
}

void layer_norm_backward(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias) {
  layer_norm_backward_fast(dtype, M, K, x, dy, mean, rstd, weight, dx, dweight, dbias);
}

// ------------------------------------------------------------------------------------ batch norm

void batch_norm_stats_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var) {
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T *mp = static_cast<T*>(mean), *vp = static_cast<T*>(var);
    const double count = double(N * S);
    for (int64_t c = 0; c < C; ++c) {
      double s = 0;  // two passes: the mean, then Σ(x − μ)², which stays accurate when |μ| ≫ σ
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) s += double(xp[(n * C + c) * S + i]);
      const double mu = s / count;
      double ss = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const double d = double(xp[(n * C + c) * S + i]) - mu;
          ss += d * d;
        }
      mp[c] = T(mu);
      vp[c] = T(ss / count);
    }
  });
}

void batch_norm_forward_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                                  const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd) {
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *mp = static_cast<const T*>(mean), *vp = static_cast<const T*>(var);
    const T *wp = static_cast<const T*>(weight), *bp = static_cast<const T*>(bias);
    T *yp = static_cast<T*>(y), *rp = static_cast<T*>(rstd);
    for (int64_t c = 0; c < C; ++c) {
      const double mu = double(mp[c]), r = norm_rstd(double(vp[c]), eps);
      const double w = weight_at(wp, c), b = bias_at(bp, c);
      rp[c] = T(r);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t at = (n * C + c) * S + i;
          yp[at] = T((double(xp[at]) - mu) * r * w + b);
        }
    }
  });
}

void batch_norm_backward_reference(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                                   const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                                   void* dweight, void* dbias) {
  KILN_DISPATCH_FLOAT(dtype, "batch_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy);
    const T *mp = static_cast<const T*>(mean), *rp = static_cast<const T*>(rstd), *wp = static_cast<const T*>(weight);
    T *dxp = static_cast<T*>(dx), *dwp = static_cast<T*>(dweight), *dbp = static_cast<T*>(dbias);
    const double count = double(N * S);
    for (int64_t c = 0; c < C; ++c) {
      const double mu = double(mp[c]), r = double(rp[c]), w = weight_at(wp, c);
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t at = (n * C + c) * S + i;
          const double g = double(dyp[at]);
          sum_dy += g;
          sum_dy_xhat += g * (double(xp[at]) - mu) * r;
        }
      if (dwp) dwp[c] = T(sum_dy_xhat);
      if (dbp) dbp[c] = T(sum_dy);
      if (!dxp) continue;
      // γ is constant over the channel, so mean(g) = γ·mean(dy) and mean(g·x̂) = γ·mean(dy·x̂).
      const double mean_g = batch_stats ? w * sum_dy / count : 0.0;
      const double mean_g_xhat = batch_stats ? w * sum_dy_xhat / count : 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t at = (n * C + c) * S + i;
          const double xhat = (double(xp[at]) - mu) * r;
          dxp[at] = T(norm_input_grad(r, w * double(dyp[at]), mean_g, xhat, mean_g_xhat));
        }
    }
  });
}

// ------------------------------------------------------------------------------------ layer norm

void layer_norm_forward_reference(DType dtype, int64_t M, int64_t K, const void* x, const void* weight,
                                  const void* bias, double eps, void* y, void* mean, void* rstd) {
  KILN_DISPATCH_FLOAT(dtype, "layer_norm", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *wp = static_cast<const T*>(weight), *bp = static_cast<const T*>(bias);
    T *yp = static_cast<T*>(y), *mp = static_cast<T*>(mean), *rp = static_cast<T*>(rstd);
    for (int64_t m = 0; m < M; ++m) {
      const T* row = xp + m * K;
      const auto [mu, var] = mean_var(row, K);
      const double r = norm_rstd(var, eps);
      mp[m] = T(mu);
      rp[m] = T(r);
      for (int64_t k = 0; k < K; ++k) yp[m * K + k] = T((double(row[k]) - mu) * r * weight_at(wp, k) + bias_at(bp, k));
    }
  });
}

void layer_norm_backward_reference(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                                   const void* rstd, const void* weight, void* dx, void* dweight, void* dbias) {
  KILN_DISPATCH_FLOAT(dtype, "layer_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy);
    const T *mp = static_cast<const T*>(mean), *rp = static_cast<const T*>(rstd), *wp = static_cast<const T*>(weight);
    T *dxp = static_cast<T*>(dx), *dwp = static_cast<T*>(dweight), *dbp = static_cast<T*>(dbias);
    std::vector<double> dw(dwp ? size_t(K) : 0, 0.0), db(dbp ? size_t(K) : 0, 0.0);
    for (int64_t m = 0; m < M; ++m) {
      const double mu = double(mp[m]), r = double(rp[m]);
      const T *row = xp + m * K, *drow = dyp + m * K;
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double xhat = (double(row[k]) - mu) * r, d = double(drow[k]), g = d * weight_at(wp, k);
        sum_g += g;
        sum_g_xhat += g * xhat;
        if (dwp) dw[k] += d * xhat;
        if (dbp) db[k] += d;
      }
      if (!dxp) continue;
      const double mean_g = sum_g / double(K), mean_g_xhat = sum_g_xhat / double(K);
      for (int64_t k = 0; k < K; ++k) {
        const double xhat = (double(row[k]) - mu) * r;
        dxp[m * K + k] = T(norm_input_grad(r, double(drow[k]) * weight_at(wp, k), mean_g, xhat, mean_g_xhat));
      }
    }
    for (int64_t k = 0; k < K; ++k) {
      if (dwp) dwp[k] = T(dw[k]);
      if (dbp) dbp[k] = T(db[k]);
    }
  });
}

// ------------------------------------------------------------------------------------ group norm
// Group (n, g) is the contiguous block x[n, g·C/G .. (g+1)·C/G − 1, :] of (C/G)·S elements.

void group_norm_forward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* weight,
                        const void* bias, double eps, void* y, void* mean, void* rstd) {
  KILN_DISPATCH_FLOAT(dtype, "group_norm", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *wp = static_cast<const T*>(weight), *bp = static_cast<const T*>(bias);
    T *yp = static_cast<T*>(y), *mp = static_cast<T*>(mean), *rp = static_cast<T*>(rstd);
    const int64_t cg = C / G, size = cg * S;
    for (int64_t ng = 0; ng < N * G; ++ng) {
      const T* block = xp + ng * size;
      const auto [mu, var] = mean_var(block, size);
      const double r = norm_rstd(var, eps);
      mp[ng] = T(mu);
      rp[ng] = T(r);
      for (int64_t e = 0; e < size; ++e) {
        const int64_t c = (ng % G) * cg + e / S;
        yp[ng * size + e] = T((double(block[e]) - mu) * r * weight_at(wp, c) + bias_at(bp, c));
      }
    }
  });
}

void group_norm_backward(DType dtype, int64_t N, int64_t C, int64_t S, int64_t G, const void* x, const void* dy,
                         const void* mean, const void* rstd, const void* weight, void* dx, void* dweight,
                         void* dbias) {
  KILN_DISPATCH_FLOAT(dtype, "group_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy);
    const T *mp = static_cast<const T*>(mean), *rp = static_cast<const T*>(rstd), *wp = static_cast<const T*>(weight);
    T *dxp = static_cast<T*>(dx), *dwp = static_cast<T*>(dweight), *dbp = static_cast<T*>(dbias);
    const int64_t cg = C / G, size = cg * S;
    std::vector<double> dw(dwp ? size_t(C) : 0, 0.0), db(dbp ? size_t(C) : 0, 0.0);
    for (int64_t ng = 0; ng < N * G; ++ng) {
      const double mu = double(mp[ng]), r = double(rp[ng]);
      const T *block = xp + ng * size, *dblock = dyp + ng * size;
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t e = 0; e < size; ++e) {
        const int64_t c = (ng % G) * cg + e / S;
        const double xhat = (double(block[e]) - mu) * r, d = double(dblock[e]), g = d * weight_at(wp, c);
        sum_g += g;
        sum_g_xhat += g * xhat;
        if (dwp) dw[c] += d * xhat;
        if (dbp) db[c] += d;
      }
      if (!dxp) continue;
      const double mean_g = sum_g / double(size), mean_g_xhat = sum_g_xhat / double(size);
      for (int64_t e = 0; e < size; ++e) {
        const int64_t c = (ng % G) * cg + e / S;
        const double xhat = (double(block[e]) - mu) * r;
        dxp[ng * size + e] = T(norm_input_grad(r, double(dblock[e]) * weight_at(wp, c), mean_g, xhat, mean_g_xhat));
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      if (dwp) dwp[c] = T(dw[c]);
      if (dbp) dbp[c] = T(db[c]);
    }
  });
}

// ------------------------------------------------------------------------------------ dropout

void dropout_mask(DType dtype, int64_t n, double p, philox::Args philox, void* mask) {
  const philox::Args r = philox::resolve(philox);
  KILN_DISPATCH_FLOAT(dtype, "dropout", [&]<class T>() {
    T* mp = static_cast<T*>(mask);
    for (int64_t i = 0; i < n; ++i) mp[i] = dropout_mask_value<T>(r.seed, r.offset, i, p);
  });
}

}  // namespace kiln::cpu
