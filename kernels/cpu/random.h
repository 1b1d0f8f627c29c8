// CPU fills from the Philox stream (kernels/common/philox.h): element i of a contiguous buffer.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kiln::cpu {

enum class RandomKind { Uniform, Normal };
// Contiguous dst of n elements (float32/float64): low + (high-low)·U or mean + std·N.
void random_fill(void* dst, DType dtype, int64_t n, RandomKind kind, double a, double b, uint64_t seed,
                 uint64_t offset);
// Contiguous int64 dst of n elements: integers in [low, high).
void random_integers(int64_t* dst, int64_t n, int64_t low, int64_t high, uint64_t seed, uint64_t offset);

}  // namespace kiln::cpu
