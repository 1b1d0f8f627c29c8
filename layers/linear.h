// Linear: y = x·Wᵀ + b with W [out_features, in_features], as torch.nn.Linear, including its default
// initialization (kaiming_uniform(a=√5) ⇒ W, b ~ U(−1/√in, 1/√in)).
#pragma once
#include "core/random.h"
#include "layers/module.h"

namespace kiln {

class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when built without one
};

}  // namespace kiln
