// cuBLAS under kiln: one cuBLAS handle per device (created on first use, bound to kiln's launch
// stream and math mode on every call) and a strided-batched GEMM with kiln's row-major conventions.
// Plain C++ header (no CUDA includes); defined in kernels/cublas/cublas_gemm.cpp in CUDA builds.
#pragma once
#include <cstdint>

namespace kiln::cuda {

// For b in [0, batch): C_b = alpha·op(A_b)·op(B_b) + beta·C_b with X_b = x + b·stride_x, row-major matrices
// exactly as kiln::cpu::gemm takes them: op(A) is m×k (A stored m×k with lda, or k×m when trans_a),
// op(B) is k×n (B stored k×n with ldb, or n×k when trans_b), C is m×n with ldc. Strides of A and B may
// be 0 (one matrix broadcast over the batch). When beta is 0, C is only written. Device pointers; runs
// on the current device's launch stream. float32 uses TF32 tensor cores only when kiln::allow_tf32().
// Requires m, n, k, batch ≥ 1 (the dispatcher in kernels/cuda/gemm.h handles empty products).
template <class T>
void cublas_gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                                 int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c,
                                 int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace kiln::cuda
