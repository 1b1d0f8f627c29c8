// Fast path of softmax and log-softmax over contiguous rows (the reference loops are in softmax.cpp).
// float32: the max, then e^{x−m} computed once with the vectorized exp_f32 and stored into y, summed
// in float over blocks and the block sums in double, then one scaling pass. float64: the
// reference's exact double operations in the same order (bit-identical), e^{x−m} computed once.
// Rows are spread over OpenMP threads.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "kernels/cpu/rowwise_fast.h"
#include "kernels/cpu/vec_math.h"

namespace kiln::cpu {
namespace {

KILN_MULTIVERSION void softmax_rows_f32(bool log, const float* x, float* y, int64_t begin, int64_t end, int64_t n) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = max_f32(xr, n);
    if (m == -std::numeric_limits<float>::infinity()) m = 0;  // a line of −∞ gives NaN, as in PyTorch
    const double total = exp_sum_f32(xr, yr, n, m);
    if (log) {
      // (x − m) first: exact for x near m, so large logits keep their small differences
      const float log_total = float(std::log(total));
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) - log_total;
    } else {
      const float inv = float(1.0 / total);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
    }
  }
}

KILN_MULTIVERSION void softmax_backward_rows_f32(bool log, const float* y, const float* dy, float* dx, int64_t begin,
                                                 int64_t end, int64_t n) {
  for (int64_t r = begin; r < end; ++r) {
    const float *yr = y + r * n, *gr = dy + r * n;
    float* dr = dx + r * n;
    const float dot = float(log ? sum_f32(gr, n) : dot_f32(gr, yr, n));  // Σ dy  or  Σ dy·y
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - exp_f32(yr[i]) * dot;
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - dot);
    }
  }
}

// float64: the reference's operations in its order, so the results are bit-identical to it.
void softmax_rows_f64(bool log, const double* x, double* y, int64_t begin, int64_t end, int64_t n) {
  for (int64_t r = begin; r < end; ++r) {
    const double* xr = x + r * n;
    double* yr = y + r * n;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) m = (xr[j] > m || xr[j] != xr[j]) ? xr[j] : m;
    if (m == -std::numeric_limits<double>::infinity()) m = 0;
    double total = 0;
    for (int64_t j = 0; j < n; ++j) total += (yr[j] = std::exp(xr[j] - m));
    if (log) {
      const double log_total = std::log(total);
      for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - m) - log_total;
    } else {
      for (int64_t j = 0; j < n; ++j) yr[j] /= total;
    }
  }
}

void softmax_backward_rows_f64(bool log, const double* y, const double* dy, double* dx, int64_t begin, int64_t end,
                               int64_t n) {
  for (int64_t r = begin; r < end; ++r) {
    const double *yr = y + r * n, *gr = dy + r * n;
    double* dr = dx + r * n;
    double dot = 0;
    for (int64_t j = 0; j < n; ++j) dot += log ? gr[j] : gr[j] * yr[j];
    for (int64_t j = 0; j < n; ++j) dr[j] = log ? gr[j] - std::exp(yr[j]) * dot : yr[j] * (gr[j] - dot);
  }
}

KILN_MULTIVERSION void exp_f32_loop(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = exp_f32(x[i]);
}

}  // namespace

void exp_f32_array(const float* x, float* y, int64_t n) { exp_f32_loop(x, y, n); }

void softmax_forward_rows(bool log, DType dtype, int64_t rows, int64_t n, const void* x, void* y) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax" : "softmax", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    for_row_blocks(rows, n, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        softmax_rows_f32(log, xp, yp, begin, end, n);
      else
        softmax_rows_f64(log, xp, yp, begin, end, n);
    });
  });
}

void softmax_backward_rows(bool log, DType dtype, int64_t rows, int64_t n, const void* y, const void* dy, void* dx) {
  ++fast_path_calls;
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax backward" : "softmax backward", [&]<class T>() {
    const T* yp = static_cast<const T*>(y);
    const T* gp = static_cast<const T*>(dy);
    T* dp = static_cast<T*>(dx);
    for_row_blocks(rows, n, [&](int64_t begin, int64_t end) {
      if constexpr (std::is_same_v<T, float>)
        softmax_backward_rows_f32(log, yp, gp, dp, begin, end, n);
      else
        softmax_backward_rows_f64(log, yp, gp, dp, begin, end, n);
    });
  });
}

}  // namespace kiln::cpu
