// The one loop behind every CPU elementwise kernel: visit each element of an n-d shape in
// row-major order, tracking an element offset into each of N strided operands.
// Compute only: no tensors, no autograd.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace kiln::cpu {

// fn(std::array<int64_t, N> offsets) for every index of `shape`; offsets[k] = Σ_d index[d]·strides[k][d].
// A 0-d shape is one element. The innermost dim runs as a plain loop.
template <size_t N, class F>
void for_each_strided(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides, F&& fn) {
  const int64_t ndim = int64_t(shape.size());
  for (int64_t s : shape)
    if (s == 0) return;
  std::array<int64_t, N> offs{};
  if (ndim == 0) {
    fn(offs);
    return;
  }
  const int64_t inner = shape[ndim - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][ndim - 1];
  std::vector<int64_t> index(ndim, 0);
  while (true) {
    std::array<int64_t, N> o = offs;
    for (int64_t i = 0; i < inner; ++i) {
      fn(o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    // advance the outer index (odometer), updating offsets incrementally
    int64_t d = ndim - 2;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d]) {
        for (size_t k = 0; k < N; ++k) offs[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) offs[k] -= strides[k][d] * (shape[d] - 1);
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace kiln::cpu
