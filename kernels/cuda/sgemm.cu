// kiln's SGEMM, version 1 of the kernel lab: 64×64 block tiles of C, 16-deep slices of K staged in shared
// memory, 4×4 outputs per thread held in registers. Every tile load is bounds-checked (zeros outside the
// matrices), so any m, n, k works. Row-major operands with the same transpose flags as kiln::cpu::gemm.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm.h"

namespace kiln::cuda {
namespace {

std::atomic<int> g_backend{int(GemmBackend::Cublas)};

constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile of C and the K slice
constexpr int kTM = 4, kTN = 4;              // outputs per thread: rows ty + 16·i, cols tx + 16·j
constexpr int kThreadsM = kBM / kTM, kThreadsN = kBN / kTN;
constexpr int kSgemmThreads = kThreadsM * kThreadsN;  // 256
static_assert(kSgemmThreads == 256 && (kBM * kBK) % kSgemmThreads == 0 && (kBK * kBN) % kSgemmThreads == 0);

// One block computes one 64×64 tile of one C_b (tiles of m along y, of n along x, batch along z; y and z
// loop when the grid is capped). Thread (ty, tx) = (tid / 16, tid % 16) owns C rows row0 + ty + 16·i and
// cols col0 + tx + 16·j for i, j < 4 (strided, so a warp's stores and shared-memory reads are consecutive).
template <bool TransA, bool TransB>
__global__ void __launch_bounds__(kSgemmThreads)
    sgemm_v1_kernel(int64_t m, int64_t n, int64_t k, float alpha, const float* __restrict__ a, int64_t lda,
                    int64_t stride_a, const float* __restrict__ b, int64_t ldb, int64_t stride_b, float beta,
                    float* __restrict__ c, int64_t ldc, int64_t stride_c, int64_t batch, int64_t tiles_m) {
  // As[p][i] = op(A)(row0 + i, k0 + p), Bs[p][j] = op(B)(k0 + p, col0 + j); +1 pads against bank conflicts.
  __shared__ float As[kBK][kBM + 1];
  __shared__ float Bs[kBK][kBN + 1];
  const int tid = int(threadIdx.x);
  const int ty = tid / kThreadsN, tx = tid % kThreadsN;
  const int64_t col0 = int64_t(blockIdx.x) * kBN;
  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {
    const float* az = a + z * stride_a;
    const float* bz = b + z * stride_b;
    float* cz = c + z * stride_c;
    for (int64_t tile_m = blockIdx.y; tile_m < tiles_m; tile_m += gridDim.y) {
      const int64_t row0 = tile_m * kBM;
      float acc[kTM][kTN];
#pragma unroll
      for (int i = 0; i < kTM; ++i)
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] = 0.f;

      for (int64_t k0 = 0; k0 < k; k0 += kBK) {
        // Stage the A slice (64 rows × 16 k): 4 elements per thread; consecutive threads walk along the
        // operand's contiguous dim (k for a row-major A, m for a transposed one).
#pragma unroll
        for (int l = 0; l < (kBM * kBK) / kSgemmThreads; ++l) {
          const int e = tid + l * kSgemmThreads;
          const int i = TransA ? e % kBM : e / kBK;
          const int p = TransA ? e / kBM : e % kBK;
          const int64_t gi = row0 + i, gp = k0 + p;
          float v = 0.f;
          if (gi < m && gp < k) v = TransA ? az[gp * lda + gi] : az[gi * lda + gp];
          As[p][i] = v;
        }
        // Stage the B slice (16 k × 64 cols) likewise.
#pragma unroll
        for (int l = 0; l < (kBK * kBN) / kSgemmThreads; ++l) {
          const int e = tid + l * kSgemmThreads;
          const int j = TransB ? e / kBK : e % kBN;
          const int p = TransB ? e % kBK : e / kBN;
          const int64_t gj = col0 + j, gp = k0 + p;
          float v = 0.f;
          if (gj < n && gp < k) v = TransB ? bz[gj * ldb + gp] : bz[gp * ldb + gj];
          Bs[p][j] = v;
        }
        __syncthreads();
#pragma unroll
        for (int p = 0; p < kBK; ++p) {
          float ra[kTM], rb[kTN];
#pragma unroll
          for (int i = 0; i < kTM; ++i) ra[i] = As[p][ty + kThreadsM * i];
#pragma unroll
          for (int j = 0; j < kTN; ++j) rb[j] = Bs[p][tx + kThreadsN * j];
#pragma unroll
          for (int i = 0; i < kTM; ++i)
#pragma unroll
            for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
        }
        __syncthreads();  // the slice is consumed before the next one overwrites it
      }
#pragma unroll
      for (int i = 0; i < kTM; ++i) {
        const int64_t r = row0 + ty + kThreadsM * i;
        if (r >= m) continue;
#pragma unroll
        for (int j = 0; j < kTN; ++j) {
          const int64_t col = col0 + tx + kThreadsN * j;
          if (col >= n) continue;
          float* out = cz + r * ldc + col;
          *out = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *out;
        }
      }
    }
  }
}

// C_b = beta·C_b over m×n matrices: a grid-stride loop, one thread per element of all batch matrices.
template <class T>
__global__ void scale_matrices_kernel(int64_t m, int64_t n, T beta, T* c, int64_t ldc, int64_t stride_c,
                                      int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = e % n, r = (e / n) % m, z = e / (n * m);
    T* p = c + z * stride_c + r * ldc + col;
    *p = beta == T(0) ? T(0) : beta * *p;
  }
}

}  // namespace

void set_cuda_gemm_backend(GemmBackend backend) { g_backend.store(int(backend)); }
GemmBackend cuda_gemm_backend() { return GemmBackend(g_backend.load()); }

void sgemm_kiln_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                                int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  KILN_CHECK(m >= 1 && n >= 1 && k >= 1 && batch >= 1, "kiln SGEMM: empty product m = ", m, ", n = ", n, ", k = ", k,
             ", batch = ", batch, " (handled by the caller)");
  const int64_t tiles_m = (m + kBM - 1) / kBM, tiles_n = (n + kBN - 1) / kBN;
  KILN_CHECK(tiles_n <= int64_t(0x7fffffff), "kiln SGEMM: n = ", n, " is too large");
  dim3 grid(unsigned(tiles_n), unsigned(std::min<int64_t>(tiles_m, 65535)), unsigned(std::min<int64_t>(batch, 65535)));
  cudaStream_t stream = launch_stream();
  if (!trans_a && !trans_b)
    sgemm_v1_kernel<false, false><<<grid, kSgemmThreads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb,
                                                                      stride_b, beta, c, ldc, stride_c, batch, tiles_m);
  else if (!trans_a && trans_b)
    sgemm_v1_kernel<false, true><<<grid, kSgemmThreads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                                                                     beta, c, ldc, stride_c, batch, tiles_m);
  else if (trans_a && !trans_b)
    sgemm_v1_kernel<true, false><<<grid, kSgemmThreads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                                                                     beta, c, ldc, stride_c, batch, tiles_m);
  else
    sgemm_v1_kernel<true, true><<<grid, kSgemmThreads, 0, stream>>>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                                                                    beta, c, ldc, stride_c, batch, tiles_m);
  KILN_CUDA_CHECK_LAUNCH();
}

template <class T>
void scale_matrices(int64_t m, int64_t n, T beta, T* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  const int64_t total = m * n * batch;
  if (total == 0) return;
  scale_matrices_kernel<T><<<grid_for(total), kBlock, 0, launch_stream()>>>(m, n, beta, c, ldc, stride_c, total);
  KILN_CUDA_CHECK_LAUNCH();
}

template void scale_matrices<float>(int64_t, int64_t, float, float*, int64_t, int64_t, int64_t);
template void scale_matrices<double>(int64_t, int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace kiln::cuda
