// The one family of check macros for CUDA runtime calls (cuBLAS and cuDNN join it in the CUDA backend).
// KILN_CUDA_CHECK throws kiln::Error with the expression, file and line; the _NOTHROW variant is for
// destructors and prints instead. KILN_CUDA_CHECK_LAUNCH() checks the last error after a kernel launch.
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
#endif
