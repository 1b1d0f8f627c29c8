// The per-device cuBLAS handles and the row-major strided-batched GEMM on top of cuBLAS's column-major
// one. The trick: a row-major m×n matrix C with leading dim ldc is, read column-major, the n×m matrix Cᵀ.
// So C = op(A)·op(B) (row-major) is Cᵀ = op(B)ᵀ·op(A)ᵀ (column-major): call cuBLAS with the operands
// swapped (B first), sizes (n, m, k), and each operand's own transpose flag. A row-major B stored k×n is,
// read column-major, Bᵀ (n×k) = op(B)ᵀ, so it needs no transpose (CUBLAS_OP_N); a B stored n×k (trans_b)
// reads as op(B) itself, so it needs CUBLAS_OP_T. Likewise for A.
#include "kernels/cublas/cublas_gemm.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <mutex>
#include <type_traits>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "kernels/cublas/cublas_library.h"
#include "kernels/cuda/launch.cuh"

namespace kiln::cuda {
namespace {

constexpr int kMaxCublasDevices = 16;

struct CublasState {
  std::once_flag init;
  cublasHandle_t handle = nullptr;
  std::mutex mutex;  // one host thread at a time binds the handle's stream and enqueues on it
};

CublasState& cublas_state(int device) {
  static auto* states = new std::array<CublasState, kMaxCublasDevices>();  // never destroyed (static tensors)
  KILN_CHECK(device >= 0 && device < kMaxCublasDevices, "cuBLAS: device index ", device, " out of range");
  CublasState& s = (*states)[size_t(device)];
  std::call_once(s.init, [&] { KILN_CUBLAS_CHECK(cublas_library().create(&s.handle)); });
  return s;
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

template <class T>
void cublas_gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                                 int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c,
                                 int64_t ldc, int64_t stride_c, int64_t batch) {
  KILN_CHECK(m >= 1 && n >= 1 && k >= 1 && batch >= 1, "cuBLAS GEMM: empty product m = ", m, ", n = ", n, ", k = ", k,
             ", batch = ", batch, " (handled by the caller)");
  const int device = current_device();
  CublasState& s = cublas_state(device);
  std::lock_guard<std::mutex> lock(s.mutex);
  KILN_CUBLAS_CHECK(cublas_library().set_stream(s.handle, launch_stream()));
  // Exact fp32 unless TF32 is allowed (float64 is unaffected by the math mode).
  KILN_CUBLAS_CHECK(cublas_library().set_math_mode(s.handle, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  // Column-major: Cᵀ (n×m, ld ldc) = op(B)ᵀ (n×k) · op(A)ᵀ (k×m).
  if constexpr (std::is_same_v<T, float>) {
    KILN_CUBLAS_CHECK(cublas_library().sgemm_strided_batched(s.handle, op(trans_b), op(trans_a), n, m, k, &alpha, b, ldb,
                                                   stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, batch));
  } else {
    static_assert(std::is_same_v<T, double>, "cuBLAS GEMM: float or double");
    KILN_CUBLAS_CHECK(cublas_library().dgemm_strided_batched(s.handle, op(trans_b), op(trans_a), n, m, k, &alpha, b, ldb,
                                                   stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, batch));
  }
}

template void cublas_gemm_strided_batched<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                                 int64_t, const float*, int64_t, int64_t, float, float*, int64_t,
                                                 int64_t, int64_t);
template void cublas_gemm_strided_batched<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                                  int64_t, const double*, int64_t, int64_t, double, double*, int64_t,
                                                  int64_t, int64_t);

}  // namespace kiln::cuda
