// Flatten and Unflatten as torch.nn: reshape layers with no parameters.
#pragma once
#include "layers/module.h"

namespace kiln {

class Flatten : public UnaryModule {
 public:
  explicit Flatten(int64_t start = 1, int64_t end = -1) : UnaryModule("Flatten"), start_dim(start), end_dim(end) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

// Expands dim `dim` into `unflattened_size` (whose product must equal that dim's size; one -1 is inferred).
class Unflatten : public UnaryModule {
 public:
  Unflatten(int64_t d, Shape sizes) : UnaryModule("Unflatten"), dim(d), unflattened_size(std::move(sizes)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t dim;
  Shape unflattened_size;
};

}  // namespace kiln
