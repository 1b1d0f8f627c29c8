// kiln's own float32 GEMM kernel (shared-memory tiles with register blocking; the kernel lab's version 1)
// and the switch that picks which GEMM the CUDA backend uses for float32: cuBLAS (default) or kiln's.
// Plain C++ header; defined in kernels/cuda/sgemm.cu in CUDA builds.
#pragma once
#include <cstdint>

namespace kiln::cuda {

enum class GemmBackend { Cublas, Kiln };
// Which GEMM float32 matrix products and the im2col convolution fallback use (process-wide). float64
// always goes to cuBLAS. Default: GemmBackend::Cublas.
void set_cuda_gemm_backend(GemmBackend backend);
GemmBackend cuda_gemm_backend();

// kiln's SGEMM, with the same row-major, strided-batched semantics as cublas_gemm_strided_batched
// (kernels/cublas/cublas_gemm.h): C_b = alpha·op(A_b)·op(B_b) + beta·C_b for b < batch; C is only
// written when beta is 0. Accumulates in float32 (no TF32). Requires m, n, k, batch ≥ 1.
void sgemm_kiln_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                                int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch);

// C_b = beta·C_b for an m×n row-major C (C = 0 when beta is 0, whatever it held): the product with k = 0.
template <class T>
void scale_matrices(int64_t m, int64_t n, T beta, T* c, int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace kiln::cuda
