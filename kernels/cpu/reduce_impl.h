// Template body of for_each_reduced (included by reduce.h).
#pragma once
#include <algorithm>

#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {

template <class F>
void for_each_reduced(const std::vector<int64_t>& shape, const int64_t* strides, const std::vector<int64_t>& dims, F&& fn) {
  // Reorder the dims: kept ones first, reduced ones last, then walk in row-major order.
  std::vector<int64_t> order_shape, order_strides;
  int64_t group = 1;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) {
      order_shape.push_back(shape[d]);
      order_strides.push_back(strides[d]);
    }
  for (int64_t d : dims) {
    order_shape.push_back(shape[d]);
    order_strides.push_back(strides[d]);
    group *= shape[d];
  }
  int64_t k = 0;
  for_each_strided<1>(order_shape, {order_strides.data()}, [&](const std::array<int64_t, 1>& o) {
    fn(k / group, o[0], k % group);
    ++k;
  });
}

}  // namespace kiln::cpu
