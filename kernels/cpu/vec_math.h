// Building blocks of the CPU fast paths (kernels/cpu/*_fast.cpp): a float32 e^x that the compiler
// vectorizes, blocked float sums, the x86-64 multiversioning attribute (an x86-64-v3 AVX2+FMA clone
// beside the baseline SSE2 one, chosen at load time) and the OpenMP row blocks with their size threshold.
// Included only by the *_fast.cpp sources. Compute only: no tensors, no autograd.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/cpu/rowwise_fast.h"

namespace kiln::cpu {

// Work below this many elements runs on one thread: OpenMP's start-up (a few µs) would cost more.
inline constexpr int64_t kParallelMinElements = 32768;

// Per-element helpers are force-inlined so that they are compiled (and vectorized) for the ISA of
// each clone of the loop that calls them.
#define KILN_VEC_INLINE __attribute__((always_inline)) inline
#define KILN_VEC_LAMBDA __attribute__((always_inline))

// Row loops carry this: GCC compiles one x86-64-v3 (AVX2, FMA) copy and one baseline copy and picks
// one through an ifunc when the program loads, by the CPU's feature bits (not its model name, which
// is what "arch=haswell" would test), so the build still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define KILN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KILN_MULTIVERSION
#endif

// e^x in float32 for x ≤ 88: Cody–Waite reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two so
// n·ln2 is exact), Cephes' degree-6 polynomial for e^r, then 2ⁿ put in the exponent bits. The
// relative error is below 4e-7 (about 3 ulp) for x ≥ −87.3 — checked over a dense sweep in
// tests/ops/test_cpu_fast_paths.cpp; below −87.3 (where e^x < 1.2e-38, float's smallest normal)
// it returns 0, so e^{−∞} = 0 exactly (masked positions). NaN gives NaN. Branch-free, so loops
// calling it vectorize (the fast-path sources are compiled with -fno-trapping-math for that).
KILN_VEC_INLINE float exp_f32(float x) {
  const float lo = -87.33654f, hi = 88.37626f;
  float c = x < lo ? lo : x;
  c = c > hi ? hi : c;
  // t's low mantissa bits hold n = round(c·log2 e) (the 1.5·2²³ shift rounds to nearest); no
  // float → int conversion, so NaN stays defined behaviour.
  const float t = c * 1.44269504088896341f + 12582912.0f;
  const float n = t - 12582912.0f;
  float r = c - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const float scale = __builtin_bit_cast(float, (__builtin_bit_cast(uint32_t, t) - 0x4B400000u + 127u) << 23);
  const float e = p * scale;
  return x < lo ? 0.0f : e;
}

// ---- row helpers, float32 (force-inlined into the multiversioned row loops)

inline constexpr int64_t kSumBlock = 1024;  // float partial sums stay this short; blocks add up in double

KILN_VEC_INLINE int64_t block_end(int64_t begin, int64_t n) { return n - begin < kSumBlock ? n : begin + kSumBlock; }

// Reductions keep kLanes independent partial results (four AVX2 registers), so that a short row is
// not bound by the latency of one chain of dependent adds; the lanes are combined at the end.
inline constexpr int64_t kLanes = 32;

// acc[0] + ... + acc[kLanes − 1] by halving (vector adds, not a serial chain of 32).
KILN_VEC_INLINE float combine_lanes(float* acc) {
  for (int64_t width = kLanes / 2; width >= 1; width /= 2)
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) acc[j] += acc[j + width];
  return acc[0];
}

// Σ_i f(i) over [begin, end) in float, kLanes partial sums.
template <class F>
KILN_VEC_INLINE float lane_sum(int64_t begin, int64_t end, F&& f) {
  float acc[kLanes] = {};
  int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes)
#pragma omp simd
    for (int64_t j = 0; j < kLanes; ++j) acc[j] += f(i + j);
  float tail = 0;
  for (; i < end; ++i) tail += f(i);
  return combine_lanes(acc) + tail;
}

// Σ_i f(i) over [0, n): float within blocks of kSumBlock, double across them.
template <class F>
KILN_VEC_INLINE double blocked_sum(int64_t n, F&& f) {
  double total = 0;
  for (int64_t b = 0; b < n; b += kSumBlock) total += double(lane_sum(b, block_end(b, n), f));
  return total;
}

// max_i x_i; a NaN in x is skipped here but still makes the caller's row NaN through e^{x−m}.
KILN_VEC_INLINE float max_f32(const float* x, int64_t n) {
  constexpr float lowest = -std::numeric_limits<float>::infinity();
  float acc[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) acc[j] = lowest;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
    for (int64_t j = 0; j < kLanes; ++j) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  float m = lowest;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int64_t width = kLanes / 2; width >= 1; width /= 2)
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) acc[j] = acc[j + width] > acc[j] ? acc[j + width] : acc[j];
  return acc[0] > m ? acc[0] : m;
}

// Σ a_i
KILN_VEC_INLINE double sum_f32(const float* a, int64_t n) {
  return blocked_sum(n, [a](int64_t i) KILN_VEC_LAMBDA { return a[i]; });
}

// Σ a_i·b_i
KILN_VEC_INLINE double dot_f32(const float* a, const float* b, int64_t n) {
  return blocked_sum(n, [a, b](int64_t i) KILN_VEC_LAMBDA { return a[i] * b[i]; });
}

// Σ e^{x_i − m}; when y is given, y_i = e^{x_i − m} too (then summed from y).
KILN_VEC_INLINE double exp_sum_f32(const float* x, float* y, int64_t n, float m) {
  if (!y) return blocked_sum(n, [x, m](int64_t i) KILN_VEC_LAMBDA { return exp_f32(x[i] - m); });
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = exp_f32(x[i] - m);
  return sum_f32(y, n);
}

// Σ (x_i − μ)²
KILN_VEC_INLINE double sq_dev_sum_f32(const float* x, int64_t n, float mu) {
  return blocked_sum(n, [x, mu](int64_t i) KILN_VEC_LAMBDA { return (x[i] - mu) * (x[i] - mu); });
}

// Σ (x_i − μ) and Σ (x_i − μ)², in one pass (float lanes within blocks, double across them).
struct DevSums {
  double sum, sq;
};
KILN_VEC_INLINE DevSums dev_sums_f32(const float* x, int64_t n, float mu) {
  DevSums total{0, 0};
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = block_end(b, n);
    float acc[kLanes] = {}, acc_sq[kLanes] = {};
    int64_t i = b;
    for (; i + kLanes <= e; i += kLanes)
#pragma omp simd
      for (int64_t j = 0; j < kLanes; ++j) {
        const float d = x[i + j] - mu;
        acc[j] += d;
        acc_sq[j] += d * d;
      }
    float s = 0, sq = 0;
    for (; i < e; ++i) s += x[i] - mu, sq += (x[i] - mu) * (x[i] - mu);
    total.sum += double(s + combine_lanes(acc));
    total.sq += double(sq + combine_lanes(acc_sq));
  }
  return total;
}

// Σ a_i·(x_i − μ)
KILN_VEC_INLINE double dev_dot_f32(const float* a, const float* x, int64_t n, float mu) {
  return blocked_sum(n, [a, x, mu](int64_t i) KILN_VEC_LAMBDA { return a[i] * (x[i] - mu); });
}

// ---- threading

// How many blocks to split `rows` rows of row_size elements into: one per OpenMP thread, or one
// when the work is small.
inline int64_t row_block_count(int64_t rows, int64_t row_size) {
#ifdef _OPENMP
  if (rows >= 2 && rows * row_size >= kParallelMinElements) return std::min<int64_t>(rows, omp_get_max_threads());
#endif
  return 1;
}

// fn(block, begin, end) for each of `blocks` contiguous blocks of [0, rows), in parallel when
// blocks > 1. fn must not throw.
template <class F>
void for_each_row_block(int64_t blocks, int64_t rows, F&& fn) {
  if (blocks <= 1) {
    fn(int64_t(0), int64_t(0), rows);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(int(blocks))
  for (int64_t b = 0; b < blocks; ++b) fn(b, rows * b / blocks, rows * (b + 1) / blocks);
}

// fn(begin, end) over [0, rows) split into one block per OpenMP thread (one block for small work).
template <class F>
void for_row_blocks(int64_t rows, int64_t row_size, F&& fn) {
  for_each_row_block(row_block_count(rows, row_size), rows,
                     [&](int64_t, int64_t begin, int64_t end) { fn(begin, end); });
}

}  // namespace kiln::cpu
