// cuBLAS is opened on first use (kernels/cublas/cublas_library.h): in a CUDA build it loads and binds
// its functions on any machine, GPU or not (no call here needs a device). CUDA builds only.
#include "kiln_test.h"

#if KILN_HAVE_CUDA
#include <string>

#include "kernels/cublas/cublas_library.h"

TEST_CASE("cuBLAS opened on first use: loads without a GPU and names its status codes", "[cuda_libraries]") {
  const kiln::cuda::CublasLibrary& cublas = kiln::cuda::cublas_library();
  CHECK(kiln::cuda::cublas_library_loaded());
  CHECK(cublas.sgemm_strided_batched != nullptr);
  CHECK(std::string(cublas.status_string(CUBLAS_STATUS_NOT_INITIALIZED)).find("not initialized") != std::string::npos);
}
#endif
