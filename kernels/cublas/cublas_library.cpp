#include "kernels/cublas/cublas_library.h"

#include <dlfcn.h>

#include <atomic>
#include <string>
#include <type_traits>

#include "core/error.h"

#ifndef KILN_CUBLAS_SONAME
#define KILN_CUBLAS_SONAME "libcublas.so"
#endif
#ifndef KILN_CUBLAS_PATH
#define KILN_CUBLAS_PATH KILN_CUBLAS_SONAME
#endif

namespace kiln::cuda {
namespace {

std::atomic<bool> loaded{false};

CublasLibrary load() {
  // The soname first (LD_LIBRARY_PATH and ld.so.conf decide, as for a linked library), then the file the
  // build was configured with (what an rpath would have given).
  void* lib = dlopen(KILN_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
  std::string why = lib ? std::string() : std::string(dlerror());
  if (!lib) lib = dlopen(KILN_CUBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
  KILN_CHECK(lib != nullptr, "cuBLAS could not be loaded (", KILN_CUBLAS_SONAME, ": ", why, "; ", KILN_CUBLAS_PATH,
             ": ", dlerror(), "): install the CUDA toolkit's cuBLAS or add its folder to LD_LIBRARY_PATH");
  CublasLibrary api{};
  auto bind = [&](auto& fn, const char* name) {
    void* p = dlsym(lib, name);
    KILN_CHECK(p != nullptr, "cuBLAS (", KILN_CUBLAS_SONAME, ") lacks ", name, ": a cuBLAS older than kiln's build");
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  bind(api.create, "cublasCreate_v2");
  bind(api.set_stream, "cublasSetStream_v2");
  bind(api.set_math_mode, "cublasSetMathMode");
  bind(api.status_string, "cublasGetStatusString");
  bind(api.sgemm_strided_batched, "cublasSgemmStridedBatched_64");
  bind(api.dgemm_strided_batched, "cublasDgemmStridedBatched_64");
  loaded.store(true);
  return api;
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary api = load();  // a failed load throws and is tried again on the next call
  return api;
}

bool cublas_library_loaded() { return loaded.load(); }

const char* cublas_status_text(cublasStatus_t status) { return cublas_library().status_string(status); }

}  // namespace kiln::cuda
