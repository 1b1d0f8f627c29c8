// Size2: a (height, width) argument that also accepts one number for both, like PyTorch's int-or-tuple
// arguments of Conv2d and the pooling layers.
#pragma once
#include <cstdint>
#include <string>

#include "core/ops/ops.h"

namespace kiln {

struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor): 3 means (3, 3)
  Size2(int64_t height, int64_t width) : h(height), w(width) {}
  Size2(Pair p) : h(p[0]), w(p[1]) {}  // NOLINT(google-explicit-constructor)
  Pair pair() const { return {h, w}; }
  bool operator==(const Size2&) const = default;
  std::string str() const {  // "(3, 3)"; appended piecewise (GCC 12 warns falsely on "(" + std::string)
    std::string out = "(";
    out.append(std::to_string(h)).append(", ").append(std::to_string(w)).append(")");
    return out;
  }
};

}  // namespace kiln
