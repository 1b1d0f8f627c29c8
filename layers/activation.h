// Activation modules: thin UnaryModule wrappers over the functional ops, with PyTorch's names, defaults and
// repr. They hold no parameters.
#pragma once
#include <string>

#include "core/ops/ops.h"
#include "layers/module.h"

namespace kiln {

class ReLU : public UnaryModule {
 public:
  ReLU() : UnaryModule("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class LeakyReLU : public UnaryModule {
 public:
  explicit LeakyReLU(double slope = 0.01) : UnaryModule("LeakyReLU"), negative_slope(slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string extra_repr() const override { return "negative_slope=" + repr::py_float(negative_slope); }
  double negative_slope;
};

class ELU : public UnaryModule {
 public:
  explicit ELU(double a = 1.0) : UnaryModule("ELU"), alpha(a) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha); }
  std::string extra_repr() const override { return "alpha=" + repr::py_float(alpha); }
  double alpha;
};

class GELU : public UnaryModule {
 public:
  explicit GELU(GeluApproximation mode = GeluApproximation::None) : UnaryModule("GELU"), approximate(mode) {}
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string extra_repr() const override {
    return std::string("approximate='") + (approximate == GeluApproximation::Tanh ? "tanh" : "none") + "'";
  }
  GeluApproximation approximate;
};

class SiLU : public UnaryModule {
 public:
  SiLU() : UnaryModule("SiLU") {}
  Tensor forward(const Tensor& x) override { return silu(x); }
};

class Tanh : public UnaryModule {
 public:
  Tanh() : UnaryModule("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public UnaryModule {
 public:
  Sigmoid() : UnaryModule("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

class Softplus : public UnaryModule {
 public:
  explicit Softplus(double b = 1.0, double limit = 20.0) : UnaryModule("Softplus"), beta(b), threshold(limit) {}
  Tensor forward(const Tensor& x) override { return softplus(x, beta, threshold); }
  std::string extra_repr() const override {
    return "beta=" + repr::py_float(beta) + ", threshold=" + repr::py_float(threshold);
  }
  double beta, threshold;
};

}  // namespace kiln
