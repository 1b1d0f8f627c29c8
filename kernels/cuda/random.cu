// Philox fills on the GPU: thread i computes element i exactly as kernels/cpu/random.cpp does.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/common/philox.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/strided_index.cuh"

namespace kiln::cuda {
namespace {

template <class T>
__global__ void random_fill_kernel(T* dst, int64_t n, int kind, double a, double b, philox::Args philox_args) {
  const philox::Args r = philox::resolve(philox_args);
  const uint64_t seed = r.seed, offset = r.offset;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (kind == 0) dst[i] = T(a + (b - a) * double(philox::to_uniform<T>(philox::word(seed, offset, i))));
    else dst[i] = T(a + b * philox::normal(seed, offset, i));
  }
}

__global__ void random_integers_kernel(int64_t* dst, int64_t n, int64_t low, int64_t high, philox::Args philox_args) {
  const philox::Args r = philox::resolve(philox_args);
  const uint64_t seed = r.seed, offset = r.offset;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = philox::integer(seed, offset, i, low, high);
}

__global__ void set_philox_state_kernel(uint64_t* state, uint64_t seed, uint64_t offset) {
  state[0] = seed;
  state[1] = offset;
}

}  // namespace

void random_fill(void* dst, DType dtype, int64_t n, int kind, double a, double b, philox::Args philox) {
  if (n == 0) return;
  if (dtype == DType::Float32)
    random_fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<float*>(dst), n, kind, a, b, philox);
  else if (dtype == DType::Float64)
    random_fill_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(static_cast<double*>(dst), n, kind, a, b, philox);
  else
    KILN_FAIL("random: dtype ", dtype_name(dtype), " is not supported (float32 or float64 expected)");
  KILN_CUDA_CHECK_LAUNCH();
}

void random_integers(int64_t* dst, int64_t n, int64_t low, int64_t high, philox::Args philox) {
  if (n == 0) return;
  random_integers_kernel<<<grid_for(n), kBlock, 0, launch_stream()>>>(dst, n, low, high, philox);
  KILN_CUDA_CHECK_LAUNCH();
}

void set_philox_state(uint64_t* state, uint64_t seed, uint64_t offset) {
  set_philox_state_kernel<<<1, 1, 0, launch_stream()>>>(state, seed, offset);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
