// The CUDA backend's matrix products: the same row-major C = alpha·op(A)·op(B) + beta·C as kiln::cpu::gemm
// (one signature, so ops can call either through KILN_DEVICE_CALL), and a strided-batched variant.
// float32 goes to cuBLAS or kiln's SGEMM (set_cuda_gemm_backend in kernels/cuda/sgemm.h); float64 to cuBLAS.
// Empty products are handled here (k = 0 gives C = beta·C). Plain C++ header; defined in gemm.cpp.
#pragma once
#include <cstdint>

namespace kiln::cuda {

// As kiln::cpu::gemm (kernels/cpu/gemm.h), on device pointers, queued on the launch stream.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

// For b < batch: C_b = alpha·op(A_b)·op(B_b) + beta·C_b with X_b = x + b·stride_x (stride 0 broadcasts A or B).
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                          int64_t stride_c, int64_t batch);

}  // namespace kiln::cuda
