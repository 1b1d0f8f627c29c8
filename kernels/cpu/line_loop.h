// The loop behind the CPU kernels that work on whole lines along one dim (softmax, cross-entropy):
// visit every line of an n-d shape along `dim`, tracking the offset of its first element in each of
// N strided operands. Compute only: no tensors, no autograd.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {

// fn(std::array<int64_t, N> offsets) once per line along `dim`, in row-major order of the other dims;
// offsets[k] is the line's first element in operand k (which walks the line with strides[k][dim]).
template <size_t N, class F>
void for_each_line(const std::vector<int64_t>& shape, int64_t dim, const std::array<const int64_t*, N>& strides, F&& fn) {
  std::vector<int64_t> outer_shape;
  std::array<std::vector<int64_t>, N> outer_strides;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (d == dim) continue;
    outer_shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) outer_strides[k].push_back(strides[k][d]);
  }
  std::array<const int64_t*, N> ptrs;
  for (size_t k = 0; k < N; ++k) ptrs[k] = outer_strides[k].data();
  for_each_strided<N>(outer_shape, ptrs, fn);
}

}  // namespace kiln::cpu
