// Seeded random numbers: a Generator is a (seed, offset) pair over the counter-based Philox stream
// (kernels/common/philox.h). Each draw of n elements takes ceil(n/4) counter blocks and advances the
// offset, so draws are reproducible from the seed and identical on CPU and CUDA.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "kernels/common/philox.h"

namespace kiln {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves the counter blocks for `numel` elements; returns the first block.
  uint64_t advance(int64_t numel) {
    uint64_t start = offset_;
    offset_ += (uint64_t(numel) + 3) / 4;
    return start;
  }
  // The Philox arguments of a draw of `numel` elements for a kernel on `device`: (seed, advance(numel)),
  // or, while a CUDA graph is being captured on this device (core/graph_capture.h), the captured draw's
  // place relative to the state each replay writes (the generator then advances at every replay).
  philox::Args draw(int64_t numel, Device device);

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The process-wide generator that creation ops use by default (seed 0 until manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

// Uniform [0, 1), standard normal, uniform [low, high), integers in [low, high) (int64 by default).
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator& generator = default_generator());
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator& generator = default_generator());
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {},
               Generator& generator = default_generator());
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = DType::Int64},
               Generator& generator = default_generator());
// A random permutation of 0..n-1 (int64), for shuffling.
Tensor randperm(int64_t n, Generator& generator = default_generator());

}  // namespace kiln
