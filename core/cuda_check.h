// The one family of check macros for CUDA runtime, cuBLAS and cuDNN calls.
// KILN_CUDA_CHECK throws kiln::Error with the expression, file and line; the _NOTHROW variant is for
// destructors and prints instead. KILN_CUDA_CHECK_LAUNCH() checks the last error after a kernel launch.
// KILN_CUBLAS_CHECK and KILN_CUDNN_CHECK(_NOTHROW) do the same for cuBLAS and cuDNN status codes.
#pragma once

#if KILN_HAVE_CUDA
#include <cuda_runtime.h>

#include <cstdio>

#include "core/error.h"

#define KILN_CUDA_CHECK(expr)                                                                        \
  do {                                                                                               \
    cudaError_t kiln_err_ = (expr);                                                                  \
    if (kiln_err_ != cudaSuccess)                                                                    \
      ::kiln::detail::throw_error(__FILE__, __LINE__,                                                \
                                  ::kiln::detail::concat("CUDA call failed: ", #expr, ": ",          \
                                                         cudaGetErrorString(kiln_err_)));            \
  } while (0)

#define KILN_CUDA_CHECK_NOTHROW(expr)                                                                \
  do {                                                                                               \
    cudaError_t kiln_err_ = (expr);                                                                  \
    if (kiln_err_ != cudaSuccess)                                                                    \
      std::fprintf(stderr, "kiln: CUDA call failed: %s: %s [%s:%d]\n", #expr,                       \
                   cudaGetErrorString(kiln_err_), __FILE__, __LINE__);                               \
  } while (0)

#define KILN_CUDA_CHECK_LAUNCH() KILN_CUDA_CHECK(cudaGetLastError())

#include <cublas_v2.h>

namespace kiln::cuda {
// cublasGetStatusString, through the cuBLAS kiln loads on first use (kernels/cublas/cublas_library.h).
const char* cublas_status_text(cublasStatus_t status);
}  // namespace kiln::cuda

#define KILN_CUBLAS_CHECK(expr)                                                                      \
  do {                                                                                               \
    cublasStatus_t kiln_st_ = (expr);                                                                \
    if (kiln_st_ != CUBLAS_STATUS_SUCCESS)                                                           \
      ::kiln::detail::throw_error(__FILE__, __LINE__,                                                \
                                  ::kiln::detail::concat("cuBLAS call failed: ", #expr, ": ",        \
                                                         ::kiln::cuda::cublas_status_text(kiln_st_))); \
  } while (0)

#if KILN_HAVE_CUDNN
#include <cudnn.h>

#define KILN_CUDNN_CHECK(expr)                                                                       \
  do {                                                                                               \
    cudnnStatus_t kiln_st_ = (expr);                                                                 \
    if (kiln_st_ != CUDNN_STATUS_SUCCESS)                                                            \
      ::kiln::detail::throw_error(__FILE__, __LINE__,                                                \
                                  ::kiln::detail::concat("cuDNN call failed: ", #expr, ": ",         \
                                                         cudnnGetErrorString(kiln_st_)));            \
  } while (0)

#define KILN_CUDNN_CHECK_NOTHROW(expr)                                                               \
  do {                                                                                               \
    cudnnStatus_t kiln_st_ = (expr);                                                                 \
    if (kiln_st_ != CUDNN_STATUS_SUCCESS)                                                            \
      std::fprintf(stderr, "kiln: cuDNN call failed: %s: %s [%s:%d]\n", #expr,                      \
                   cudnnGetErrorString(kiln_st_), __FILE__, __LINE__);                               \
  } while (0)
#endif
#endif
