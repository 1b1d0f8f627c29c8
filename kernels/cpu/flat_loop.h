// The fast path of the CPU elementwise kernels: when every operand is contiguous in the output's order
// or one value broadcast, the n-d strided loop becomes one flat loop over [0, n) that the compiler can
// vectorize, split into chunks across OpenMP threads above kParallelElements. The strided loop
// (strided_loop.h) stays the reference every fast path is tested against.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace kiln::cpu {

// Below this many elements one thread does the whole loop (PyTorch's grain size: threads cost more).
constexpr int64_t kParallelElements = int64_t(1) << 15;

// How a flat loop over `shape` (row-major) walks an operand with `strides`: 1 when they are the
// contiguous strides, 0 when the operand is one value broadcast, -1 when it needs the strided loop.
// Dims of size 1 do not count.
inline int64_t flat_step(const std::vector<int64_t>& shape, const int64_t* strides) {
  bool contiguous = true, broadcast = true;
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 1) continue;
    contiguous = contiguous && strides[d] == expected;
    broadcast = broadcast && strides[d] == 0;
    expected *= shape[d];
  }
  return contiguous ? 1 : broadcast ? 0 : -1;
}

inline int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// body(begin, end) over [0, n): in one call below kParallelElements, else in chunks across threads.
template <class F>
void for_each_chunk(int64_t n, F&& body) {
  if (n < kParallelElements) {
    body(int64_t(0), n);
    return;
  }
  const int64_t chunks = (n + kParallelElements - 1) / kParallelElements;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) body(c * kParallelElements, std::min(n, (c + 1) * kParallelElements));
}

}  // namespace kiln::cpu
