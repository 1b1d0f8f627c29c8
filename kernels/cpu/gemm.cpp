// CPU GEMM: the plain reference loop and the OpenBLAS path (cblas_sgemm / cblas_dgemm).
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <vector>

#if KILN_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace kiln::cpu {
namespace {

std::atomic<bool> g_blas_enabled{true};

// C = beta·C for the degenerate k = 0 product (alpha·op(A)·op(B) is then a zero matrix).
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : T(beta * c[i * ldc + j]);
}

#if KILN_HAVE_OPENBLAS
// cblas takes int sizes; larger problems go to the plain loop.
bool fits_blas(std::initializer_list<int64_t> values) {
  for (int64_t v : values)
    if (v > INT_MAX) return false;
  return true;
}

void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
               float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}
void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
               int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}
#endif

}  // namespace

void set_blas_enabled(bool enabled) { g_blas_enabled.store(enabled); }
bool blas_enabled() { return g_blas_enabled.load(); }
bool blas_available() {
#if KILN_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  // Loop order follows B's layout so the innermost loop walks memory contiguously:
  // B stored k×n: row i of C accumulates a(i,p)·B[p, :] (i-p-j); B stored n×k: C(i,j) is a dot product (i-j-p).
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (m * n * k > (1 << 16))
#endif
  for (int64_t i = 0; i < m; ++i) {
    auto a_at = [&](int64_t p) { return double(trans_a ? a[p * lda + i] : a[i * lda + p]); };
    T* c_row = c + i * ldc;
    auto store = [&](int64_t j, double acc) {
      double prior = beta == T(0) ? 0.0 : double(beta) * double(c_row[j]);
      c_row[j] = T(double(alpha) * acc + prior);
    };
    if (!trans_b) {
      std::vector<double> acc(size_t(n), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        const double av = a_at(p);
        const T* b_row = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) acc[size_t(j)] += av * double(b_row[j]);
      }
      for (int64_t j = 0; j < n; ++j) store(j, acc[size_t(j)]);
    } else {
      for (int64_t j = 0; j < n; ++j) {
        const T* b_row = b + j * ldb;
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += a_at(p) * double(b_row[p]);
        store(j, acc);
      }
    }
  }
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, c, ldc);
#if KILN_HAVE_OPENBLAS
  // cblas checks lda ≥ max(1, columns of the stored matrix); views of one row or column may carry any
  // leading dimension, so those go to the plain loop rather than tripping BLAS's argument check.
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  if (blas_enabled() && fits_blas({m, n, k, lda, ldb, ldc}) && lda >= std::max<int64_t>(1, a_cols) &&
      ldb >= std::max<int64_t>(1, b_cols) && ldc >= std::max<int64_t>(1, n)) {
    blas_gemm(trans_a, trans_b, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
    return;
  }
#endif
  gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#define KILN_INSTANTIATE_GEMM(T)                                                                                   \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,     \
                        int64_t);                                                                                  \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                                  T, T*, int64_t);
KILN_INSTANTIATE_GEMM(float)
KILN_INSTANTIATE_GEMM(double)
#undef KILN_INSTANTIATE_GEMM

}  // namespace kiln::cpu
