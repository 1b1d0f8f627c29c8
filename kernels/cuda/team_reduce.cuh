// Building blocks of the CUDA reductions, softmax and losses: strided offsets of N operands over one
// (coalesced) shape, and a deterministic all-reduce inside a "team" of 1, 32 (a warp) or 256 (the
// whole block) threads. Every team owns its outputs, so no atomics are used anywhere.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.cuh"

namespace kiln::cuda {

// Constants usable in device code (constexpr variables, not calls to host functions).
inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A shape walked in row-major order with one set of element strides per operand.
template <int N>
struct MultiDesc {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
};

// The descriptor of `shape` for N operands, simplified without changing the row-major order of the
// elements: dims of size 1 are dropped and neighbours that are contiguous in every operand merged.
// Callers return early when the shape has no elements.
template <int N>
MultiDesc<N> make_multi_desc(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides) {
  std::vector<int64_t> s;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!s.empty()) {
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && st[k].back() == strides[k][d] * shape[d];
      if (merge) {
        s.back() *= shape[d];
        for (int k = 0; k < N; ++k) st[k].back() = strides[k][d];
        continue;
      }
    }
    s.push_back(shape[d]);
    for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  KILN_CHECK(s.size() <= size_t(kMaxDims), "CUDA kernels take at most ", kMaxDims,
             " non-mergeable dims, got ", s.size());
  MultiDesc<N> d{};
  d.ndim = int(s.size());
  for (int i = 0; i < d.ndim; ++i) {
    d.shape[i] = s[size_t(i)];
    for (int k = 0; k < N; ++k) d.strides[k][i] = st[k][size_t(i)];
  }
  return d;
}

// off[k] = the element offset in operand k of row-major element `linear` of the shape (host or
// device; the loops over k have a compile-time trip count and unroll without a pragma).
template <int N>
__host__ __device__ __forceinline__ void multi_offsets(const MultiDesc<N>& d, int64_t linear, int64_t (&off)[N]) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  if (d.ndim == 1) {  // the common case after merging: no division
    for (int k = 0; k < N; ++k) off[k] = linear * d.strides[k][0];
    return;
  }
  for (int i = d.ndim - 1; i >= 0; --i) {
    const int64_t idx = linear % d.shape[i];
    linear /= d.shape[i];
    for (int k = 0; k < N; ++k) off[k] += idx * d.strides[k][i];
  }
}

// The offset in the single operand of a MultiDesc<1>.
__host__ __device__ __forceinline__ int64_t single_offset(const MultiDesc<1>& d, int64_t linear) {
  int64_t off[1];
  multi_offsets<1>(d, linear, off);
  return off[0];
}

// Team-level all-reduce. TEAM is 1 (a thread alone), 32 (a warp) or kBlock (the whole block); the
// calling code must be uniform over the team (every lane calls it, the same number of times).
// `comb` must be commutative and associative up to rounding; every lane gets the bit-identical result
// (the xor butterfly combines the same pairs in every lane; the block step reads the warps in order).
// `smem` holds kBlock / 32 values (only used when TEAM == kBlock).
template <class A>
__device__ __forceinline__ A shfl_xor_full(A v, int mask) {
  return __shfl_xor_sync(0xffffffffu, v, mask);
}

template <int TEAM, class A, class Combine>
__device__ __forceinline__ A team_allreduce(A v, const Combine& comb, A* smem) {
  static_assert(TEAM == 1 || TEAM == 32 || TEAM == kBlock, "a team is a thread, a warp or the block");
  if constexpr (TEAM >= 32) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = comb(v, shfl_xor_full(v, o));
  }
  if constexpr (TEAM == kBlock) {
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    v = smem[0];
#pragma unroll
    for (int w = 1; w < kBlock / 32; ++w) v = comb(v, smem[w]);
    __syncthreads();  // smem may be reused by the next call
  }
  return v;
}

// max that lets a NaN win over numbers (as the CPU kernels: `(v > m || v != v) ? v : m`).
struct MaxNan {
  __device__ __forceinline__ double operator()(double a, double b) const {
    return (a != a) ? a : (b != b) ? b : (b > a ? b : a);
  }
};
struct MinNan {
  __device__ __forceinline__ double operator()(double a, double b) const {
    return (a != a) ? a : (b != b) ? b : (b < a ? b : a);
  }
};
struct AddD {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};

// How many threads share one line (or output) of `n` elements: a thread alone for very short lines,
// or for "column" work with at least `min_lines` lines (lines strided, neighbouring lines adjacent in
// memory: neighbouring threads then read neighbouring addresses); a warp for lines up to 2048; the
// whole block beyond.
inline int choose_team(int64_t n, bool column_layout, int64_t lines, int64_t min_lines) {
  if (n <= 16 || (column_layout && lines >= min_lines)) return 1;
  if (n <= 2048) return 32;
  return kBlock;
}

// Blocks for a grid-stride loop over `items` units of work done by teams of `team` threads.
inline unsigned blocks_for_teams(int64_t items, int team) {
  const int64_t per_block = kBlock / team;
  int64_t blocks = (items + per_block - 1) / per_block;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535) blocks = 65535;
  return unsigned(blocks);
}

}  // namespace kiln::cuda
