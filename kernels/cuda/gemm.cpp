// Routes CUDA matrix products to cuBLAS or kiln's SGEMM and handles the empty cases neither takes.
#include "kernels/cuda/gemm.h"

#include <type_traits>

#include "kernels/cublas/cublas_gemm.h"
#include "kernels/cuda/sgemm.h"

namespace kiln::cuda {

template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                          int64_t stride_c, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (k <= 0) {
    scale_matrices<T>(m, n, beta, c, ldc, stride_c, batch);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (cuda_gemm_backend() == GemmBackend::Kiln) {
      sgemm_kiln_strided_batched(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                                 stride_c, batch);
      return;
    }
  }
  cublas_gemm_strided_batched<T>(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                                 stride_c, batch);
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_strided_batched<T>(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

#define KILN_INSTANTIATE_CUDA_GEMM(T)                                                                          \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);                                                                              \
  template void gemm_strided_batched<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t,  \
                                        const T*, int64_t, int64_t, T, T*, int64_t, int64_t, int64_t);
KILN_INSTANTIATE_CUDA_GEMM(float)
KILN_INSTANTIATE_CUDA_GEMM(double)
#undef KILN_INSTANTIATE_CUDA_GEMM

}  // namespace kiln::cuda
