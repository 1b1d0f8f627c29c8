// CPU matrix product C = alpha·op(A)·op(B) + beta·C on row-major matrices with leading dimensions.
// Two implementations: a plain loop (the reference, accumulating in double) and OpenBLAS when kiln
// was built with it and it is enabled. Compute only: raw pointers and sizes, no tensors, no autograd.
#pragma once
#include <cstdint>

namespace kiln::cpu {

// op(A) is m×k and op(B) is k×n. With trans_a false A is stored m×k (element (i, p) at a[i·lda + p]);
// with trans_a true A is stored k×m and op(A) = Aᵀ (element (i, p) at a[p·lda + i]). Likewise for B.
// C is m×n with element (i, j) at c[i·ldc + j]. When beta is 0, C is only written (NaNs in it vanish).
// Uses OpenBLAS when available and enabled (see set_blas_enabled), else gemm_reference.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

// The plain loop: every C element is a dot product accumulated in double. The oracle for tests.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Whether gemm may call OpenBLAS (default: yes). Process-wide; has no effect without OpenBLAS.
void set_blas_enabled(bool enabled);
bool blas_enabled();
// Whether this build has OpenBLAS at all.
bool blas_available();

}  // namespace kiln::cpu
