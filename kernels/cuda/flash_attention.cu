// Flash attention for float32 (see flash_attention.h). Every kernel works on "owned" rows with four
// threads (a quad of adjacent lanes) per row: the forward and dQ kernels own 64 query rows and loop over
// tiles of 32 keys; the dK/dV kernel owns 64 keys and loops over tiles of 32 query rows. Within a tile,
// lane c of a quad computes the scores against tile rows c, c+4, ..., c+28 (8 per thread), the quad
// combines row statistics with xor-shuffles, and columns c, c+4, ... of the owned output row (a quarter
// of it, at most 32 floats) stay in registers. Tiles sit in shared memory with an odd row stride, so the
// strided reads of a warp fall in distinct banks. Rows past the end (tails) are loaded as zeros and
// masked; sums run in float, exponentials use expf; each output element has one owner thread (no
// atomics), so results are deterministic.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/tree_reduce.cuh"  // DeviceScratch, blocks_for_rows

namespace kiln::cuda {
namespace {

constexpr int kQuad = 4;                  // threads per owned row (adjacent lanes of one warp)
constexpr int kOwned = 64;                // owned rows per block
constexpr int kThreads = kOwned * kQuad;  // 256
constexpr int kTile = 32;                 // rows of the tiles a block loops over
constexpr int kPerLane = kTile / kQuad;   // tile rows per thread: 8
constexpr int kMaxDim = int(kFlashMaxHeadDim);
constexpr int kCols = kMaxDim / kQuad;    // accumulator columns per thread: 32
constexpr unsigned kFullMask = 0xffffffffu;
// Registers: the forward and dQ kernels are capped at 128 per thread (__launch_bounds__(256, 2): two blocks
// per SM; ptxas spills a few bytes), the dK/dV kernel keeps two accumulators and takes about 195 (one block).
static_assert(kThreads % 32 == 0 && 32 % kQuad == 0 && kTile % kQuad == 0 && kMaxDim % kQuad == 0,
              "a quad must lie inside one warp and split the tiles and head dims evenly");

// The row stride of a shared tile of `width` floats: odd, so that rows r ≠ r' (|r − r'| < 32) of one
// column are in different banks.
__host__ __device__ constexpr int padded(int width) { return width | 1; }

// Shared floats of each kernel: forward Q [kOwned] + K, V [kTile]; backward Q, dO [kOwned or kTile] +
// K, V [kTile or kOwned] + lse, Δ [kTile] (the dQ kernel leaves the last two unused).
__host__ __device__ constexpr int forward_smem_floats(int D, int Dv) {
  return (kOwned + kTile) * padded(D) + kTile * padded(Dv);
}
__host__ __device__ constexpr int backward_smem_floats(int D, int Dv) {
  return (kOwned + kTile) * (padded(D) + padded(Dv)) + 2 * kTile;
}
constexpr int kMaxSmemBytes = int(sizeof(float)) * (forward_smem_floats(kMaxDim, kMaxDim) >
                                                            backward_smem_floats(kMaxDim, kMaxDim)
                                                        ? forward_smem_floats(kMaxDim, kMaxDim)
                                                        : backward_smem_floats(kMaxDim, kMaxDim));

__device__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// tile[r][col] = src[r][col] for r < n and 0 for n ≤ r < rows (zero tails: masked lanes compute with
// zeros, never with garbage). src is row-major with `width` columns; the tile's row stride is
// padded(width). Called by the whole block.
__device__ void load_tile(float* tile, const float* src, int64_t n, int rows, int width) {
  const int ld = padded(width);
  for (int idx = threadIdx.x; idx < rows * width; idx += blockDim.x) {
    const int r = idx / width, col = idx - r * width;
    tile[r * ld + col] = r < n ? src[int64_t(r) * width + col] : 0.0f;
  }
}

// acc[x] = a · tile[c + 4x] for x < 8, over `width` elements: `a` is one shared row, `tile` a shared
// tile with row stride padded(width).
__device__ void dot_tile(const float* a, const float* tile, int width, int c, float (&acc)[kPerLane]) {
  const int ld = padded(width);
#pragma unroll
  for (int x = 0; x < kPerLane; ++x) acc[x] = 0.0f;
  for (int d = 0; d < width; ++d) {
    const float ad = a[d];
#pragma unroll
    for (int x = 0; x < kPerLane; ++x) acc[x] = fmaf(ad, tile[(c + kQuad * x) * ld + d], acc[x]);
  }
}

// Max and sum over the four lanes of a quad; every lane gets the same bits (a + b = b + a in floating
// point, and the butterfly pairs the same operands in every lane). All 32 lanes must call them.
__device__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(kFullMask, x, 1));
  return fmaxf(x, __shfl_xor_sync(kFullMask, x, 2));
}
__device__ float quad_sum(float x) {
  x += __shfl_xor_sync(kFullMask, x, 1);
  return x + __shfl_xor_sync(kFullMask, x, 2);
}

// Whether query i sees key j.
__device__ bool visible(int64_t i, int64_t j, int64_t Tq, int64_t Tk, bool causal) {
  return i < Tq && j < Tk && (!causal || j <= i);
}

// Forward. Block item = (b, tile of 64 query rows), heaviest (last) causal tiles first. Thread (r, c)
// owns query i = i0 + r, keeps its running max m and sum l (the same in the four lanes) and columns
// c + 4e of the unnormalized output. Per key tile: S = scale·q_i·K_tileᵀ, m' = max(m, rowmax S),
// P = exp(S − m'), l ← l·exp(m − m') + rowsum P, o ← o·exp(m − m') + P·V_tile. At the end
// out_i = o / l and lse_i = m + log l. Causal: key tiles past the last query of the block are skipped.
__global__ void __launch_bounds__(kThreads, 2)
    flash_forward_kernel(AttentionShape sh, const float* __restrict__ q, const float* __restrict__ k,
                         const float* __restrict__ v, float scale, bool causal, float* __restrict__ out,
                         float* __restrict__ lse) {
  extern __shared__ float smem[];
  const int D = int(sh.D), Dv = int(sh.Dv);
  float* q_tile = smem;                          // [kOwned][padded(D)]
  float* k_tile = q_tile + kOwned * padded(D);   // [kTile][padded(D)]
  float* v_tile = k_tile + kTile * padded(D);    // [kTile][padded(Dv)]
  const int r = int(threadIdx.x) / kQuad, c = int(threadIdx.x) % kQuad;
  const int quad_lane0 = (int(threadIdx.x) % 32) & ~(kQuad - 1);
  const int64_t Tq = sh.Tq, Tk = sh.Tk, tiles = (Tq + kOwned - 1) / kOwned;
  for (int64_t item = blockIdx.x; item < sh.B * tiles; item += gridDim.x) {  // block-uniform
    const int64_t b = item / tiles, i0 = (tiles - 1 - item % tiles) * kOwned, i = i0 + r;
    load_tile(q_tile, q + (b * Tq + i0) * D, Tq - i0, kOwned, D);
    const int64_t key_end = causal ? min64(Tk, min64(Tq, i0 + kOwned)) : Tk;
    float m = -INFINITY, l = 0.0f, o[kCols];
#pragma unroll
    for (int e = 0; e < kCols; ++e) o[e] = 0.0f;
    for (int64_t j0 = 0; j0 < key_end; j0 += kTile) {
      __syncthreads();  // q_tile is loaded, and nobody reads the previous K/V tiles any more
      load_tile(k_tile, k + (b * Tk + j0) * D, Tk - j0, kTile, D);
      load_tile(v_tile, v + (b * Tk + j0) * Dv, Tk - j0, kTile, Dv);
      __syncthreads();
      float s[kPerLane];
      dot_tile(q_tile + r * padded(D), k_tile, D, c, s);
      float tile_max = -INFINITY;
#pragma unroll
      for (int x = 0; x < kPerLane; ++x) {
        s[x] = visible(i, j0 + c + kQuad * x, Tq, Tk, causal) ? scale * s[x] : -INFINITY;
        tile_max = fmaxf(tile_max, s[x]);
      }
      const float m_new = fmaxf(m, quad_max(tile_max));
      // While every key so far is masked, m_new = −∞: subtract 0 instead, so every exp below is exp(−∞) = 0.
      const float m_ref = m_new == -INFINITY ? 0.0f : m_new;
      float tile_sum = 0.0f;
#pragma unroll
      for (int x = 0; x < kPerLane; ++x) {
        s[x] = expf(s[x] - m_ref);  // s now holds P
        tile_sum += s[x];
      }
      const float alpha = expf(m - m_ref);  // rescales what was accumulated against the old maximum
      l = l * alpha + quad_sum(tile_sum);
#pragma unroll
      for (int e = 0; e < kCols; ++e) o[e] *= alpha;
#pragma unroll
      for (int x = 0; x < kPerLane; ++x)  // tile row t = cq + 4x: its P is s[x] of quad lane cq
#pragma unroll 1
        for (int cq = 0; cq < kQuad; ++cq) {
          const float p = __shfl_sync(kFullMask, s[x], quad_lane0 + cq);  // P[i][j0 + t]
          const float* v_row = v_tile + (cq + kQuad * x) * padded(Dv);
#pragma unroll
          for (int e = 0; e < kCols; ++e)
            if (c + kQuad * e < Dv) o[e] = fmaf(p, v_row[c + kQuad * e], o[e]);
        }
      m = m_new;
    }
    if (i < Tq) {
      float* out_row = out + (b * Tq + i) * Dv;
#pragma unroll
      for (int e = 0; e < kCols; ++e)
        if (c + kQuad * e < Dv) out_row[c + kQuad * e] = l > 0.0f ? o[e] / l : 0.0f;
      if (c == 0) lse[b * Tq + i] = l > 0.0f ? m + logf(l) : -INFINITY;
    }
    __syncthreads();  // every thread is done with q_tile before the next item reloads it
  }
}

// Δ_i = Σ_e dO_ie·O_ie (= rowsum(dP∘P), since dP_ij = dO_i·v_j and O_i = Σ_j P_ij·v_j). One warp per row,
// lanes over e, then an xor-shuffle sum (a fixed order). rows = B·Tq.
__global__ void flash_delta_kernel(int64_t rows, int Dv, const float* __restrict__ out,
                                   const float* __restrict__ dout, float* __restrict__ delta) {
  const int warps = int(blockDim.x) / 32, warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  for (int64_t row = int64_t(blockIdx.x) * warps + warp; row < rows; row += int64_t(gridDim.x) * warps) {  // warp-uniform
    float acc = 0.0f;
    for (int e = lane; e < Dv; e += 32) acc = fmaf(dout[row * Dv + e], out[row * Dv + e], acc);
    for (int offset = 16; offset > 0; offset /= 2) acc += __shfl_xor_sync(kFullMask, acc, offset);
    if (lane == 0) delta[row] = acc;
  }
}

// dQ. Block item = (b, tile of 64 query rows); thread (r, c) owns query i = i0 + r and columns c + 4e of
// dq_i. Per key tile: P = exp(scale·q_i·K_tileᵀ − lse_i), dP = dO_i·V_tileᵀ, dS = P∘(dP − Δ_i),
// acc += dS·K_tile; at the end dq_i = scale·acc. Causal: key tiles past the block's last query are skipped.
__global__ void __launch_bounds__(kThreads, 2)
    flash_backward_dq_kernel(AttentionShape sh, const float* __restrict__ q, const float* __restrict__ k,
                             const float* __restrict__ v, const float* __restrict__ lse,
                             const float* __restrict__ delta, const float* __restrict__ dout, float scale,
                             bool causal, float* __restrict__ dq) {
  extern __shared__ float smem[];
  const int D = int(sh.D), Dv = int(sh.Dv);
  float* q_tile = smem;                            // [kOwned][padded(D)]
  float* do_tile = q_tile + kOwned * padded(D);    // [kOwned][padded(Dv)]
  float* k_tile = do_tile + kOwned * padded(Dv);   // [kTile][padded(D)]
  float* v_tile = k_tile + kTile * padded(D);      // [kTile][padded(Dv)]
  const int r = int(threadIdx.x) / kQuad, c = int(threadIdx.x) % kQuad;
  const int quad_lane0 = (int(threadIdx.x) % 32) & ~(kQuad - 1);
  const int64_t Tq = sh.Tq, Tk = sh.Tk, tiles = (Tq + kOwned - 1) / kOwned;
  for (int64_t item = blockIdx.x; item < sh.B * tiles; item += gridDim.x) {  // block-uniform
    const int64_t b = item / tiles, i0 = (tiles - 1 - item % tiles) * kOwned, i = i0 + r;
    load_tile(q_tile, q + (b * Tq + i0) * D, Tq - i0, kOwned, D);
    load_tile(do_tile, dout + (b * Tq + i0) * Dv, Tq - i0, kOwned, Dv);
    const float lse_i = i < Tq ? lse[b * Tq + i] : 0.0f, delta_i = i < Tq ? delta[b * Tq + i] : 0.0f;
    const int64_t key_end = causal ? min64(Tk, min64(Tq, i0 + kOwned)) : Tk;
    float acc[kCols];
#pragma unroll
    for (int e = 0; e < kCols; ++e) acc[e] = 0.0f;
    for (int64_t j0 = 0; j0 < key_end; j0 += kTile) {
      __syncthreads();  // q/dO tiles are loaded, and nobody reads the previous K/V tiles any more
      load_tile(k_tile, k + (b * Tk + j0) * D, Tk - j0, kTile, D);
      load_tile(v_tile, v + (b * Tk + j0) * Dv, Tk - j0, kTile, Dv);
      __syncthreads();
      float s[kPerLane], dp[kPerLane];
      dot_tile(q_tile + r * padded(D), k_tile, D, c, s);
      dot_tile(do_tile + r * padded(Dv), v_tile, Dv, c, dp);
#pragma unroll
      for (int x = 0; x < kPerLane; ++x) {
        const float p = visible(i, j0 + c + kQuad * x, Tq, Tk, causal) ? expf(scale * s[x] - lse_i) : 0.0f;
        s[x] = p * (dp[x] - delta_i);  // s now holds dS
      }
#pragma unroll
      for (int x = 0; x < kPerLane; ++x)  // tile row t = cq + 4x: its dS is s[x] of quad lane cq
#pragma unroll 1
        for (int cq = 0; cq < kQuad; ++cq) {
          const float ds = __shfl_sync(kFullMask, s[x], quad_lane0 + cq);  // dS[i][j0 + t]
          const float* k_row = k_tile + (cq + kQuad * x) * padded(D);
#pragma unroll
          for (int e = 0; e < kCols; ++e)
            if (c + kQuad * e < D) acc[e] = fmaf(ds, k_row[c + kQuad * e], acc[e]);
        }
    }
    if (i < Tq) {
      float* dq_row = dq + (b * Tq + i) * D;
#pragma unroll
      for (int e = 0; e < kCols; ++e)
        if (c + kQuad * e < D) dq_row[c + kQuad * e] = scale * acc[e];
    }
    __syncthreads();  // every thread is done with the q/dO tiles before the next item reloads them
  }
}

// dK and dV. Block item = (b, tile of 64 keys), heaviest (first) causal tiles first; thread (r, c) owns
// key j = j0 + r and columns c + 4e of dk_j and dv_j. Per query tile: P = exp(scale·k_j·Q_tileᵀ − lse),
// dP = v_j·dO_tileᵀ, dS = P∘(dP − Δ), dv_j += P·dO_tile, acc_k += dS·Q_tile; at the end dk_j = scale·acc_k.
// Causal: query tiles whose rows all lie before j0 are skipped. dk or dv may be null.
__global__ void __launch_bounds__(kThreads)
    flash_backward_dkv_kernel(AttentionShape sh, const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, const float* __restrict__ lse,
                              const float* __restrict__ delta, const float* __restrict__ dout, float scale,
                              bool causal, float* __restrict__ dk, float* __restrict__ dv) {
  extern __shared__ float smem[];
  const int D = int(sh.D), Dv = int(sh.Dv);
  float* k_tile = smem;                            // [kOwned][padded(D)]  the owned keys
  float* v_tile = k_tile + kOwned * padded(D);     // [kOwned][padded(Dv)]
  float* q_tile = v_tile + kOwned * padded(Dv);    // [kTile][padded(D)]
  float* do_tile = q_tile + kTile * padded(D);     // [kTile][padded(Dv)]
  float* lse_tile = do_tile + kTile * padded(Dv);  // [kTile]
  float* delta_tile = lse_tile + kTile;            // [kTile]
  const int r = int(threadIdx.x) / kQuad, c = int(threadIdx.x) % kQuad;
  const int quad_lane0 = (int(threadIdx.x) % 32) & ~(kQuad - 1);
  const int64_t Tq = sh.Tq, Tk = sh.Tk, tiles = (Tk + kOwned - 1) / kOwned;
  for (int64_t item = blockIdx.x; item < sh.B * tiles; item += gridDim.x) {  // block-uniform
    const int64_t b = item / tiles, j0 = (item % tiles) * kOwned, j = j0 + r;
    load_tile(k_tile, k + (b * Tk + j0) * D, Tk - j0, kOwned, D);
    load_tile(v_tile, v + (b * Tk + j0) * Dv, Tk - j0, kOwned, Dv);
    float acc_k[kCols], acc_v[kCols];
#pragma unroll
    for (int e = 0; e < kCols; ++e) acc_k[e] = acc_v[e] = 0.0f;
    const int64_t q_begin = causal ? j0 / kTile * kTile : 0;  // the first tile with a query i ≥ j0
    for (int64_t i0 = q_begin; i0 < Tq; i0 += kTile) {
      __syncthreads();  // K/V tiles are loaded, and nobody reads the previous Q/dO tiles any more
      load_tile(q_tile, q + (b * Tq + i0) * D, Tq - i0, kTile, D);
      load_tile(do_tile, dout + (b * Tq + i0) * Dv, Tq - i0, kTile, Dv);
      for (int t = int(threadIdx.x); t < kTile; t += int(blockDim.x)) {
        const bool in_range = i0 + t < Tq;
        lse_tile[t] = in_range ? lse[b * Tq + i0 + t] : 0.0f;
        delta_tile[t] = in_range ? delta[b * Tq + i0 + t] : 0.0f;
      }
      __syncthreads();
      float s[kPerLane], dp[kPerLane];
      dot_tile(k_tile + r * padded(D), q_tile, D, c, s);     // k_j · q_{i0 + c + 4x}
      dot_tile(v_tile + r * padded(Dv), do_tile, Dv, c, dp);  // v_j · dO_{i0 + c + 4x}
#pragma unroll
      for (int x = 0; x < kPerLane; ++x) {
        const int t = c + kQuad * x;
        const float p = visible(i0 + t, j, Tq, Tk, causal) ? expf(scale * s[x] - lse_tile[t]) : 0.0f;
        s[x] = p;                              // s now holds P
        dp[x] = p * (dp[x] - delta_tile[t]);  // dp now holds dS
      }
#pragma unroll
      for (int x = 0; x < kPerLane; ++x)  // tile row t = cq + 4x: its P and dS are s[x], dp[x] of quad lane cq
#pragma unroll 1
        for (int cq = 0; cq < kQuad; ++cq) {
          const float p = __shfl_sync(kFullMask, s[x], quad_lane0 + cq);    // P[i0 + t][j]
          const float ds = __shfl_sync(kFullMask, dp[x], quad_lane0 + cq);  // dS[i0 + t][j]
          const int t = cq + kQuad * x;
          const float *q_row = q_tile + t * padded(D), *do_row = do_tile + t * padded(Dv);
#pragma unroll
          for (int e = 0; e < kCols; ++e) {
            if (c + kQuad * e < Dv) acc_v[e] = fmaf(p, do_row[c + kQuad * e], acc_v[e]);
            if (c + kQuad * e < D) acc_k[e] = fmaf(ds, q_row[c + kQuad * e], acc_k[e]);
          }
        }
    }
    if (j < Tk) {
#pragma unroll
      for (int e = 0; e < kCols; ++e) {
        if (dk && c + kQuad * e < D) dk[(b * Tk + j) * D + c + kQuad * e] = scale * acc_k[e];
        if (dv && c + kQuad * e < Dv) dv[(b * Tk + j) * Dv + c + kQuad * e] = acc_v[e];
      }
    }
    __syncthreads();  // every thread is done with the K/V tiles before the next item reloads them
  }
}

// The dynamic shared memory the flash kernels may use on the current device. On first use per device,
// the kernels are opted in to min(kMaxSmemBytes, the device's per-block limit).
int smem_limit_for_current_device() {
  static std::mutex mutex;
  static std::vector<int> limits;  // per device; −1: not set up yet
  const int device = current_device();
  std::lock_guard<std::mutex> lock(mutex);
  if (size_t(device) >= limits.size()) limits.resize(size_t(device) + 1, -1);
  if (limits[size_t(device)] < 0) {
    int optin = 0;
    KILN_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    const int limit = std::min(optin, kMaxSmemBytes);
    KILN_CUDA_CHECK(cudaFuncSetAttribute(flash_forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
    KILN_CUDA_CHECK(
        cudaFuncSetAttribute(flash_backward_dq_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
    KILN_CUDA_CHECK(
        cudaFuncSetAttribute(flash_backward_dkv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit));
    limits[size_t(device)] = limit;
  }
  return limits[size_t(device)];
}

size_t forward_smem_bytes(const AttentionShape& s) {
  return size_t(forward_smem_floats(int(s.D), int(s.Dv))) * sizeof(float);
}
size_t backward_smem_bytes(const AttentionShape& s) {
  return size_t(backward_smem_floats(int(s.D), int(s.Dv))) * sizeof(float);
}

void check_supported(const AttentionShape& s) {
  KILN_CHECK(flash_attention_supported(s), "flash attention (CUDA, float32): head dims D = ", s.D, " and Dv = ", s.Dv,
             " are not supported (1 to ", kFlashMaxHeadDim, ", with enough shared memory per block)");
}

}  // namespace

bool flash_attention_supported(const AttentionShape& s) {
  if (s.D < 1 || s.D > kFlashMaxHeadDim || s.Dv < 1 || s.Dv > kFlashMaxHeadDim) return false;
  const size_t limit = size_t(smem_limit_for_current_device());
  return forward_smem_bytes(s) <= limit && backward_smem_bytes(s) <= limit;
}

void flash_attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v, float scale,
                             bool causal, float* out, float* lse) {
  check_supported(s);
  const int64_t items = s.B * ((s.Tq + kOwned - 1) / kOwned);
  if (items == 0) return;
  flash_forward_kernel<<<blocks_for_rows(items), kThreads, forward_smem_bytes(s), launch_stream()>>>(
      s, q, k, v, scale, causal, out, lse);
  KILN_CUDA_CHECK_LAUNCH();
}

void flash_attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                              const float* out, const float* lse, const float* dout, float scale, bool causal,
                              float* dq, float* dk, float* dv) {
  check_supported(s);
  const int64_t rows = s.B * s.Tq;
  const int64_t q_items = s.B * ((s.Tq + kOwned - 1) / kOwned), k_items = s.B * ((s.Tk + kOwned - 1) / kOwned);
  DeviceScratch delta(size_t(rows) * sizeof(float));  // Δ per query row, read by both gradient kernels
  if (rows > 0) {
    constexpr int kWarps = kThreads / 32;
    flash_delta_kernel<<<blocks_for_rows((rows + kWarps - 1) / kWarps), kThreads, 0, launch_stream()>>>(
        rows, int(s.Dv), out, dout, delta.as<float>());
    KILN_CUDA_CHECK_LAUNCH();
  }
  const size_t smem = backward_smem_bytes(s);
  if (dq && q_items > 0) {
    flash_backward_dq_kernel<<<blocks_for_rows(q_items), kThreads, smem, launch_stream()>>>(
        s, q, k, v, lse, delta.as<float>(), dout, scale, causal, dq);
    KILN_CUDA_CHECK_LAUNCH();
  }
  if ((dk || dv) && k_items > 0) {
    flash_backward_dkv_kernel<<<blocks_for_rows(k_items), kThreads, smem, launch_stream()>>>(
        s, q, k, v, lse, delta.as<float>(), dout, scale, causal, dk, dv);
    KILN_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace kiln::cuda
