// Fast paths of layer and batch norm (the reference loops are in norm.cpp). float32: statistics as
// float sums within blocks of a row or channel plane and double across blocks, two passes (mean,
// then Σ(x − μ)²) as in the reference; the elementwise passes in float and vectorized. float64: the
// same structure in double. Layer norm spreads rows over OpenMP threads (its backward sums dγ, dβ
// in float over chunks of 32 rows, in double across chunks and threads); batch norm spreads
// channels (statistics and backward) or planes (forward).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/common/norm_math.h"
#include "kernels/cpu/rowwise_fast.h"
#include "kernels/cpu/vec_math.h"

namespace kiln::cpu {
namespace {

// ---- per-type sums: float32 through the blocked vector helpers, float64 in plain double loops.
KILN_VEC_INLINE double sum_of(const float* x, int64_t n) { return sum_f32(x, n); }
KILN_VEC_INLINE double sq_dev_sum_of(const float* x, int64_t n, double mu) { return sq_dev_sum_f32(x, n, float(mu)); }
KILN_VEC_INLINE double dev_dot_of(const float* a, const float* x, int64_t n, double mu) {
  return dev_dot_f32(a, x, n, float(mu));
}
KILN_VEC_INLINE DevSums dev_sums_of(const float* x, int64_t n, double mu) { return dev_sums_f32(x, n, float(mu)); }
KILN_VEC_INLINE DevSums dev_sums_of(const double* x, int64_t n, double mu) {
  DevSums s{0, 0};
  for (int64_t i = 0; i < n; ++i) s.sum += x[i] - mu, s.sq += (x[i] - mu) * (x[i] - mu);
  return s;
}
KILN_VEC_INLINE double sum_of(const double* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}
KILN_VEC_INLINE double sq_dev_sum_of(const double* x, int64_t n, double mu) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (x[i] - mu) * (x[i] - mu);
  return s;
}
KILN_VEC_INLINE double dev_dot_of(const double* a, const double* x, int64_t n, double mu) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * (x[i] - mu);
  return s;
}

// ---- layer norm rows [begin, end) of x [M, K]
template <class T>
KILN_VEC_INLINE void layer_norm_rows(const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd,
                                     int64_t begin, int64_t end, int64_t K) {
  for (int64_t m = begin; m < end; ++m) {
    const T* row = x + m * K;
    T* out = y + m * K;
    // The float sum's mean, corrected by the mean deviation from it (Σ(x − μ₀)/K, taken in the
    // variance's pass): the mean is then as accurate as its float rounding even when |μ| ≫ σ.
    const double mu0 = double(T(sum_of(row, K) / double(K)));  // in T, so the deviations below are from it
    const auto [dev, sq] = dev_sums_of(row, K, mu0);
    const double mu = mu0 + dev / double(K);
    const double r = norm_rstd(std::max(0.0, (sq - dev * dev / double(K)) / double(K)), eps);
    mean[m] = T(mu);
    rstd[m] = T(r);
    const T mu_t = T(mu), r_t = T(r);
    if (w && b) {
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) out[k] = (row[k] - mu_t) * r_t * w[k] + b[k];
    } else {
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) out[k] = (row[k] - mu_t) * r_t * (w ? w[k] : T(1)) + (b ? b[k] : T(0));
    }
  }
}
KILN_MULTIVERSION void layer_norm_rows_f32(const float* x, const float* w, const float* b, double eps, float* y,
                                           float* mean, float* rstd, int64_t begin, int64_t end, int64_t K) {
  layer_norm_rows<float>(x, w, b, eps, y, mean, rstd, begin, end, K);
}

// Backward of rows [begin, end): dx, and this block's Σ dy·x̂ and Σ dy added into dw_acc, db_acc
// (double, K each; null when not needed). Those sums run in float over kRowChunk rows at a time
// (dw_part, db_part: K floats each) and are then added into the double ones. `xhat` holds K values
// of T (x̂ of the current row). Two passes per row: x̂ and the row sums, then dx with dγ, dβ.
inline constexpr int64_t kRowChunk = 32;
template <class T>
KILN_VEC_INLINE void layer_norm_backward_rows(const T* x, const T* dy, const T* mean, const T* rstd, const T* w, T* dx,
                                              double* dw_acc, double* db_acc, T* xhat, T* dw_part, T* db_part,
                                              int64_t begin, int64_t end, int64_t K) {
  const bool params = dw_acc || db_acc;
  for (int64_t chunk = begin; chunk < end; chunk += kRowChunk) {
    const int64_t chunk_end = end - chunk < kRowChunk ? end : chunk + kRowChunk;
    if (params)
      for (int64_t k = 0; k < K; ++k) dw_part[k] = T(0), db_part[k] = T(0);
    for (int64_t m = chunk; m < chunk_end; ++m) {
      const T *row = x + m * K, *drow = dy + m * K;
      const T mu = mean[m], r = rstd[m];
      T sum_g = 0, sum_g_xhat = 0;  // within one row (K terms); float for float32
#pragma omp simd reduction(+ : sum_g, sum_g_xhat)
      for (int64_t k = 0; k < K; ++k) {
        const T xh = (row[k] - mu) * r, g = drow[k] * (w ? w[k] : T(1));
        xhat[k] = xh;
        sum_g += g;
        sum_g_xhat += g * xh;
      }
      const T mean_g = T(double(sum_g) / double(K)), mean_g_xhat = T(double(sum_g_xhat) / double(K));
      T* out = dx ? dx + m * K : nullptr;
      if (out && params) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) {
          const T d = drow[k];
          dw_part[k] += d * xhat[k];
          db_part[k] += d;
          out[k] = r * (d * (w ? w[k] : T(1)) - mean_g - xhat[k] * mean_g_xhat);
        }
      } else if (out) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) out[k] = r * (drow[k] * (w ? w[k] : T(1)) - mean_g - xhat[k] * mean_g_xhat);
      } else if (params) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) {
          dw_part[k] += drow[k] * xhat[k];
          db_part[k] += drow[k];
        }
      }
    }
    if (dw_acc)
      for (int64_t k = 0; k < K; ++k) dw_acc[k] += double(dw_part[k]);
    if (db_acc)
      for (int64_t k = 0; k < K; ++k) db_acc[k] += double(db_part[k]);
  }
}
KILN_MULTIVERSION void layer_norm_backward_rows_f32(const float* x, const float* dy, const float* mean,
                                                    const float* rstd, const float* w, float* dx, double* dw_acc,
                                                    double* db_acc, float* xhat, float* dw_part, float* db_part,
                                                    int64_t begin, int64_t end, int64_t K) {
  layer_norm_backward_rows<float>(x, dy, mean, rstd, w, dx, dw_acc, db_acc, xhat, dw_part, db_part, begin, end, K);
}

// ---- batch norm on [N, C, S]: plane (n, c) is the S contiguous values at (n·C + c)·S.
template <class T>
KILN_VEC_INLINE void batch_norm_stats_channels(const T* x, T* mean, T* var, int64_t N, int64_t C, int64_t S,
                                               int64_t begin, int64_t end) {
  const double count = double(N * S);
  for (int64_t c = begin; c < end; ++c) {
    double s = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n) s += sum_of(x + (n * C + c) * S, S);
    const double mu = s / count;
    for (int64_t n = 0; n < N; ++n) ss += sq_dev_sum_of(x + (n * C + c) * S, S, mu);
    mean[c] = T(mu);
    var[c] = T(ss / count);
  }
}
KILN_MULTIVERSION void batch_norm_stats_channels_f32(const float* x, float* mean, float* var, int64_t N, int64_t C,
                                                     int64_t S, int64_t begin, int64_t end) {
  batch_norm_stats_channels<float>(x, mean, var, N, C, S, begin, end);
}

// y = (x − μ_c)·a_c + β_c over planes [begin, end) (a_c = r_c·γ_c).
template <class T>
KILN_VEC_INLINE void batch_norm_apply_planes(const T* x, const T* mean, const T* scale, const T* bias, T* y,
                                             int64_t C, int64_t S, int64_t begin, int64_t end) {
  for (int64_t plane = begin; plane < end; ++plane) {
    const int64_t c = plane % C;
    const T mu = mean[c], a = scale[c], b = bias ? bias[c] : T(0);
    const T* xp = x + plane * S;
    T* yp = y + plane * S;
#pragma omp simd
    for (int64_t i = 0; i < S; ++i) yp[i] = (xp[i] - mu) * a + b;
  }
}
KILN_MULTIVERSION void batch_norm_apply_planes_f32(const float* x, const float* mean, const float* scale,
                                                   const float* bias, float* y, int64_t C, int64_t S, int64_t begin,
                                                   int64_t end) {
  batch_norm_apply_planes<float>(x, mean, scale, bias, y, C, S, begin, end);
}

template <class T>
KILN_VEC_INLINE void batch_norm_backward_channels(const T* x, const T* dy, const T* mean, const T* rstd, const T* w,
                                                  bool batch_stats, T* dx, T* dw, T* db, int64_t N, int64_t C,
                                                  int64_t S, int64_t begin, int64_t end) {
  const double count = double(N * S);
  for (int64_t c = begin; c < end; ++c) {
    const double mu = double(mean[c]), r = double(rstd[c]), gamma = w ? double(w[c]) : 1.0;
    double sum_dy = 0, sum_dy_dev = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t at = (n * C + c) * S;
      sum_dy += sum_of(dy + at, S);
      sum_dy_dev += dev_dot_of(dy + at, x + at, S, mu);
    }
    const double sum_dy_xhat = sum_dy_dev * r;
    if (dw) dw[c] = T(sum_dy_xhat);
    if (db) db[c] = T(sum_dy);
    if (!dx) continue;
    // dx = r·(γ·dy − mean(g) − x̂·mean(g·x̂)) = (γr)·dy − r·mean(g) − (x − μ)·r²·mean(g·x̂)
    const T k_dy = T(gamma * r), k_0 = T(batch_stats ? r * gamma * sum_dy / count : 0.0);
    const T k_dev = T(batch_stats ? r * r * gamma * sum_dy_xhat / count : 0.0), mu_t = T(mu);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t at = (n * C + c) * S;
      const T *xp = x + at, *gp = dy + at;
      T* out = dx + at;
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) out[i] = k_dy * gp[i] - k_0 - (xp[i] - mu_t) * k_dev;
    }
  }
}
KILN_MULTIVERSION void batch_norm_backward_channels_f32(const float* x, const float* dy, const float* mean,
                                                        const float* rstd, const float* w, bool batch_stats, float* dx,
                                                        float* dw, float* db, int64_t N, int64_t C, int64_t S,
                                                        int64_t begin, int64_t end) {
  batch_norm_backward_channels<float>(x, dy, mean, rstd, w, batch_stats, dx, dw, db, N, C, S, begin, end);
}

}  // namespace

// ------------------------------------------------------------------------------------ layer norm

void layer_norm_forward_fast(DType dtype, int64_t M, int64_t K, const void* x, const void* weight, const void* bias,
                             double eps, void* y, void* mean, void* rstd) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "layer_norm", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *wp = static_cast<const T*>(weight), *bp = static_cast<const T*>(bias);
    T *yp = static_cast<T*>(y), *mp = static_cast<T*>(mean), *rp = static_cast<T*>(rstd);
    for_row_blocks(M, K, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        layer_norm_rows_f32(xp, wp, bp, eps, yp, mp, rp, begin, end, K);
      else
        layer_norm_rows<double>(xp, wp, bp, eps, yp, mp, rp, begin, end, K);
    });
  });
}

void layer_norm_backward_fast(DType dtype, int64_t M, int64_t K, const void* x, const void* dy, const void* mean,
                              const void* rstd, const void* weight, void* dx, void* dweight, void* dbias) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "layer_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy);
    const T *mp = static_cast<const T*>(mean), *rp = static_cast<const T*>(rstd), *wp = static_cast<const T*>(weight);
    T *dxp = static_cast<T*>(dx), *dwp = static_cast<T*>(dweight), *dbp = static_cast<T*>(dbias);
    const int64_t blocks = row_block_count(M, K);
    // Each block's Σ dy·x̂ and Σ dy in double, and its x̂ scratch row; the blocks' sums add up after.
    std::vector<double> dw_acc(dwp ? size_t(blocks * K) : 0, 0.0), db_acc(dbp ? size_t(blocks * K) : 0, 0.0);
    std::vector<T> scratch(size_t(3 * blocks * K));  // per block: x̂ of a row, dγ and dβ of a row chunk
    for_each_row_block(blocks, M, [&](int64_t blk, int64_t begin, int64_t end) {
      double* dw_b = dwp ? dw_acc.data() + blk * K : nullptr;
      double* db_b = dbp ? db_acc.data() + blk * K : nullptr;
      T* xhat = scratch.data() + 3 * blk * K;
      if constexpr (std::is_same_v<T, float>)
        layer_norm_backward_rows_f32(xp, dyp, mp, rp, wp, dxp, dw_b, db_b, xhat, xhat + K, xhat + 2 * K, begin, end,
                                     K);
      else
        layer_norm_backward_rows<double>(xp, dyp, mp, rp, wp, dxp, dw_b, db_b, xhat, xhat + K, xhat + 2 * K, begin,
                                         end, K);
    });
    for (int64_t k = 0; k < K; ++k) {
      double dw_k = 0, db_k = 0;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        if (dwp) dw_k += dw_acc[size_t(blk * K + k)];
        if (dbp) db_k += db_acc[size_t(blk * K + k)];
      }
      if (dwp) dwp[k] = T(dw_k);
      if (dbp) dbp[k] = T(db_k);
    }
  });
}

// ------------------------------------------------------------------------------------ batch norm

void batch_norm_stats_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, void* mean, void* var) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T *mp = static_cast<T*>(mean), *vp = static_cast<T*>(var);
    for_row_blocks(C, N * S, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        batch_norm_stats_channels_f32(xp, mp, vp, N, C, S, begin, end);
      else
        batch_norm_stats_channels<double>(xp, mp, vp, N, C, S, begin, end);
    });
  });
}

void batch_norm_forward_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* mean,
                             const void* var, double eps, const void* weight, const void* bias, void* y, void* rstd) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *mp = static_cast<const T*>(mean), *vp = static_cast<const T*>(var);
    const T *wp = static_cast<const T*>(weight), *bp = static_cast<const T*>(bias);
    T *yp = static_cast<T*>(y), *rp = static_cast<T*>(rstd);
    std::vector<T> scale(static_cast<size_t>(C));  // a_c = r_c·γ_c
    for (int64_t c = 0; c < C; ++c) {
      const double r = norm_rstd(double(vp[c]), eps);
      rp[c] = T(r);
      scale[size_t(c)] = T(r * (wp ? double(wp[c]) : 1.0));
    }
    for_row_blocks(N * C, S, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        batch_norm_apply_planes_f32(xp, mp, scale.data(), bp, yp, C, S, begin, end);
      else
        batch_norm_apply_planes<double>(xp, mp, scale.data(), bp, yp, C, S, begin, end);
    });
  });
}

void batch_norm_backward_fast(DType dtype, int64_t N, int64_t C, int64_t S, const void* x, const void* dy,
                              const void* mean, const void* rstd, const void* weight, bool batch_stats, void* dx,
                              void* dweight, void* dbias) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, "batch_norm backward", [&]<class T>() {
    const T *xp = static_cast<const T*>(x), *dyp = static_cast<const T*>(dy);
    const T *mp = static_cast<const T*>(mean), *rp = static_cast<const T*>(rstd), *wp = static_cast<const T*>(weight);
    T *dxp = static_cast<T*>(dx), *dwp = static_cast<T*>(dweight), *dbp = static_cast<T*>(dbias);
    for_row_blocks(C, N * S, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        batch_norm_backward_channels_f32(xp, dyp, mp, rp, wp, batch_stats, dxp, dwp, dbp, N, C, S, begin, end);
      else
        batch_norm_backward_channels<double>(xp, dyp, mp, rp, wp, batch_stats, dxp, dwp, dbp, N, C, S, begin, end);
    });
  });
}

}  // namespace kiln::cpu
