// The clipped window of an average pool along one axis, shared by the CPU pooling kernels' reference
// loops (pool.cpp) and fast path (pool_fast.cpp) so that both divide by exactly the same count.
#pragma once
#include <algorithm>
#include <cstdint>

namespace kiln::cpu {

// [start, end) of output o's window clipped to the input, and its length counting padding (count_include_pad).
struct AvgWindow {
  int64_t start, end, padded_len;
};
inline AvgWindow avg_window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p) {
  int64_t start = o * s - p;
  int64_t end = std::min(start + k, in + p);
  int64_t padded = end - start;
  return {std::max<int64_t>(start, 0), std::min(end, in), padded};
}

}  // namespace kiln::cpu
