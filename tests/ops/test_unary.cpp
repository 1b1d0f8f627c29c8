// Elementwise unary ops: values against std:: math, gradient checks (contiguous and strided inputs).
#include <cmath>
#include <functional>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> reference;
  double lo, hi;  // input range for the gradient check (avoids kinks and domain edges)
};

const double kSqrt2 = std::sqrt(2.0);

std::vector<UnaryCase> unary_cases() {
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 0.5, 3},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.5, 3},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double x) { return 1 / std::sqrt(x); }, 0.5, 3},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, 0.1, 2},
      {"abs_negative", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, -2, -0.1},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -2, 2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, sig, -4, 4},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0; }, 0.1, 2},
      {"relu_negative_side", [](const Tensor& x) { return relu(x) + x; }, [](double x) { return (x > 0 ? x : 0) + x; }, -2, -0.1},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](double x) { return x > 0 ? x : 0.2 * x; }, -2, -0.1},
      {"elu", [](const Tensor& x) { return elu(x, 1.5); }, [](double x) { return x > 0 ? x : 1.5 * (std::exp(x) - 1); }, -2, -0.1},
      {"elu_positive", [](const Tensor& x) { return elu(x, 1.5); }, [](double x) { return x > 0 ? x : 1.5 * (std::exp(x) - 1); }, 0.1, 2},
      {"gelu", [](const Tensor& x) { return gelu(x); }, [](double x) { return 0.5 * x * (1 + std::erf(x / kSqrt2)); }, -3, 3},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); },
       [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }, -3, 3},
      {"silu", [](const Tensor& x) { return silu(x); }, [sig](double x) { return x * sig(x); }, -3, 3},
      {"softplus", [](const Tensor& x) { return softplus(x, 2.0, 20.0); }, [](double x) { return std::log1p(std::exp(2 * x)) / 2; }, -3, 3},
      {"pow_scalar", [](const Tensor& x) { return pow(x, 2.5); }, [](double x) { return std::pow(x, 2.5); }, 0.5, 2},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, [](double x) { return std::min(std::max(x, -0.5), 0.7); }, -0.45, 0.65},
      {"add_scalar", [](const Tensor& x) { return x + 3.0; }, [](double x) { return x + 3; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return x * -1.5; }, [](double x) { return -1.5 * x; }, -2, 2},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1 / x; }, 0.5, 2},
      {"scalar_minus", [](const Tensor& x) { return 2.0 - x; }, [](double x) { return 2 - x; }, -2, 2},
      {"scalar_divide", [](const Tensor& x) { return 2.0 / x; }, [](double x) { return 2 / x; }, 0.5, 2},
  };
}

}  // namespace

TEST_CASE("unary ops match std:: math in float64 and float32", "[unary]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    Tensor x = random_input({3, 5}, 7, c.lo, c.hi).detach();
    std::vector<double> xs = x.to_vector<double>(), expected;
    for (double v : xs) expected.push_back(c.reference(v));
    CHECK_CLOSE(c.op(x), expected, 1e-12, 1e-12);
    CHECK_CLOSE(c.op(x.to(DType::Float32)), expected, 1e-6, 1e-5);
  }
}

TEST_CASE("unary ops: gradient checks on contiguous and transposed inputs", "[unary][gradcheck]") {
  for (const UnaryCase& c : unary_cases()) {
    INFO(c.name);
    Tensor x = random_input({4, 3}, 11, c.lo, c.hi);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x});
    Tensor base = random_input({3, 4}, 12, c.lo, c.hi);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.op(in[0].t()); }, {base});
  }
}

TEST_CASE("unary ops refuse integer tensors with a clear message", "[unary]") {
  Tensor i = arange(4, {.dtype = DType::Int64});
  CHECK_THROWS_WITH_TEXT(exp(i), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(clamp(f64({1, 2}, {2}), 1.0, 0.0), "above upper bound");
}
