// cuBLAS, opened on first use (dlopen) instead of linked: libcublas pulls in libcublasLt, whose loading
// alone costs about 200 MiB of memory and a slow start in every process, also in CPU-only runs of a CUDA
// build. The first GEMM on a GPU loads it; a process that never multiplies on a GPU never does.
#pragma once

#include <cublas_v2.h>

namespace kiln::cuda {

// The cuBLAS functions kiln calls. A new one is added here and bound in cublas_library.cpp.
struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemmStridedBatched_64) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched_64) dgemm_strided_batched;
};

// Loads cuBLAS the first time (its soname, then the toolkit's library folder the build found); throws
// kiln::Error naming what was tried and dlerror()'s reason when it cannot be loaded or lacks a function.
const CublasLibrary& cublas_library();
// Whether cublas_library() has loaded it in this process (the tests check that CPU work does not).
bool cublas_library_loaded();

}  // namespace kiln::cuda
