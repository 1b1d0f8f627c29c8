// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a counter-based generator. Element i of any random tensor is a pure function of
// (seed, offset + i/4, lane i%4), so the CPU and every CUDA thread produce the same stream
// without sharing state. Shared by kernels/cpu and kernels/cuda.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln::philox {

struct Block {
  uint32_t v[4];
};

KILN_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

// Four 32-bit random words for counter `counter` under key `seed`.
KILN_HD Block philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// The 32-bit word for element i of a draw that starts at block `offset`.
KILN_HD uint32_t word(uint64_t seed, uint64_t offset, int64_t i) {
  return philox4x32_10(seed, offset + uint64_t(i) / 4).v[i % 4];
}

// Uniform in [0, 1): 24 bits for float (never rounds up to 1), 32 bits for double.
template <class T>
KILN_HD T to_uniform(uint32_t w) {
  if constexpr (sizeof(T) == 4) return T(w >> 8) * T(1.0 / 16777216.0);
  else return T(w) * T(1.0 / 4294967296.0);
}

// Where a draw's counter blocks start. Outside a CUDA graph it is (seed, offset) itself. A draw captured
// into a graph (core/graph_capture.h) names a device array {seed, base offset} that is rewritten before
// every replay, and `offset` is the draw's place relative to that base: each replay then gets the numbers
// the uncaptured step would get at the generator's current offset.
struct Args {
  uint64_t seed = 0;
  uint64_t offset = 0;
  const uint64_t* graph_state = nullptr;  // {seed, base offset} in the kernel's memory, or null
};

// The draw's (seed, first block), read once by each thread of a kernel.
KILN_HD Args resolve(const Args& a) {
  if (a.graph_state == nullptr) return a;
  return {a.graph_state[0], a.graph_state[1] + a.offset, nullptr};
}

// Standard normal for element i: Box–Muller on the word pairs (0,1) and (2,3) of its block,
// computed in double on every device so CPU and GPU agree to rounding.
KILN_HD double normal(uint64_t seed, uint64_t offset, int64_t i) {
  Block b = philox4x32_10(seed, offset + uint64_t(i) / 4);
  int lane = int(i % 4), pair = lane / 2 * 2;
  double u1 = (double(b.v[pair]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]: log stays finite
  double u2 = double(b.v[pair + 1]) * (1.0 / 4294967296.0);
  double r = ::sqrt(-2.0 * ::log(u1));
  const double two_pi = 6.283185307179586476925286766559;
  return lane % 2 == 0 ? r * ::cos(two_pi * u2) : r * ::sin(two_pi * u2);
}

// Integer in [low, high) for element i. Ranges up to 2³² use one word (multiply-shift, bias below
// 2⁻³² per value); wider ranges join it with the same element's word under a second key into 64 bits
// (modulo; bias below range/2⁶⁴).
KILN_HD int64_t integer(uint64_t seed, uint64_t offset, int64_t i, int64_t low, int64_t high) {
  uint64_t range = uint64_t(high) - uint64_t(low);  // unsigned: no overflow for extreme bounds
  uint64_t w = word(seed, offset, i);
  if (range <= 0xFFFFFFFFull) return int64_t(uint64_t(low) + ((w * range) >> 32));
  uint64_t wide = (w << 32) | word(seed ^ 0x9E3779B97F4A7C15ull, offset, i);
  return int64_t(uint64_t(low) + wide % range);
}

}  // namespace kiln::philox
