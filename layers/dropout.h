// Dropout as torch.nn.Dropout: zeroes elements with probability p and scales the rest by 1/(1−p) in training;
// the identity in eval mode. Draws from the generator given at construction (the default one otherwise).
#pragma once
#include "core/error.h"
#include "core/ops/ops.h"
#include "layers/module.h"

namespace kiln {

class Dropout : public UnaryModule {
 public:
  explicit Dropout(double probability = 0.5, Generator& generator = default_generator())
      : UnaryModule("Dropout"), p(probability), generator_(&generator) {
    KILN_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability has to be between 0 and 1, but got ", p);
  }
  Tensor forward(const Tensor& x) override { return dropout(x, p, training_, *generator_); }
  std::string extra_repr() const override { return "p=" + repr::py_float(p) + ", inplace=False"; }

  double p;

 private:
  Generator* generator_;
};

}  // namespace kiln
