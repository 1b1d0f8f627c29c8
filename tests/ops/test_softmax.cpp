// Softmax and log-softmax: values against a naive per-line loop along every dim (also strided
// inputs and float32), stability on large inputs, gradient checks on every dim, bad arguments.
#include <cmath>
#include <limits>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

// Naive softmax along `dim` of a contiguous row-major tensor, no max subtraction (inputs are small).
std::vector<double> naive_softmax(const Shape& shape, const std::vector<double>& x, int64_t dim, bool log) {
  int64_t nd = int64_t(shape.size());
  dim = dim < 0 ? dim + nd : dim;
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < nd; ++d) inner *= shape[d];
  int64_t n = shape[size_t(dim)], outer = int64_t(x.size()) / (n * inner);
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double total = 0;
      for (int64_t j = 0; j < n; ++j) total += std::exp(x[size_t((o * n + j) * inner + i)]);
      for (int64_t j = 0; j < n; ++j) {
        size_t at = size_t((o * n + j) * inner + i);
        y[at] = log ? x[at] - std::log(total) : std::exp(x[at]) / total;
      }
    }
  return y;
}

}  // namespace

TEST_CASE("softmax and log_softmax match a naive loop along every dim", "[softmax]") {
  const Shape shape = {2, 3, 4};
  Tensor x = random_input(shape, 5, -3, 3).detach();
  std::vector<double> xs = x.to_vector<double>();
  Tensor strided = contiguous(x.transpose(0, 2)).transpose(0, 2);  // same values, non-contiguous
  REQUIRE(!strided.is_contiguous());
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    INFO("dim " << dim);
    std::vector<double> p = naive_softmax(shape, xs, dim, false), lp = naive_softmax(shape, xs, dim, true);
    CHECK_CLOSE(softmax(x, dim), p, 1e-14, 1e-12);
    CHECK_CLOSE(log_softmax(x, dim), lp, 1e-14, 1e-12);
    CHECK_CLOSE(softmax(strided, dim), p, 1e-14, 1e-12);
    CHECK_CLOSE(log_softmax(strided, dim), lp, 1e-14, 1e-12);
    CHECK_CLOSE(softmax(x.to(DType::Float32), dim), p, 1e-6, 1e-5);
    CHECK_CLOSE(log_softmax(x.to(DType::Float32), dim), lp, 1e-6, 1e-5);
    CHECK(softmax(x, dim).shape() == shape);
  }
}

TEST_CASE("softmax: hand values, stability and edge cases", "[softmax]") {
  // softmax([0, ln 3]) = [1/4, 3/4]
  CHECK_CLOSE(softmax(f64({0, std::log(3.0)}, {2}), 0), {0.25, 0.75}, 1e-15, 1e-14);
  CHECK_CLOSE(log_softmax(f64({0, std::log(3.0)}, {2}), 0), {std::log(0.25), std::log(0.75)}, 1e-15, 1e-14);
  // large inputs: the max is subtracted, so nothing overflows (float32 too)
  Tensor big = f64({1000, 1001, 1002}, {3});
  double z = 1 + std::exp(1.0) + std::exp(2.0);
  std::vector<double> expected = {1 / z, std::exp(1.0) / z, std::exp(2.0) / z};
  CHECK_CLOSE(softmax(big, 0), expected, 1e-15, 1e-12);
  CHECK_CLOSE(softmax(big.to(DType::Float32), 0), expected, 1e-7, 1e-5);
  CHECK_CLOSE(log_softmax(f64({-1000, 0}, {2}), 0), {-1000.0, 0.0}, 1e-12, 1e-12);
  // −∞ logits get probability 0 (a masked position)
  double inf = std::numeric_limits<double>::infinity();
  CHECK_CLOSE(softmax(f64({-inf, 0, 0}, {3}), 0), {0, 0.5, 0.5}, 0.0, 0.0);
  // a 0-d tensor is a line of one
  CHECK_CLOSE(softmax(f64({3}, {}), 0), {1.0}, 0.0, 0.0);
  CHECK(log_softmax(f64({3}, {}), -1).shape() == Shape{});
  // rows sum to one
  Tensor p = softmax(random_input({5, 7}, 9).detach(), 1);
  CHECK_CLOSE(sum(p, {1}), std::vector<double>(5, 1.0), 1e-14, 0.0);
}

TEST_CASE("softmax and log_softmax: gradient checks on every dim and strided inputs", "[softmax][gradcheck]") {
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("dim " << dim);
    Tensor x = random_input({3, 4, 2}, 41);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x});
    Tensor base = random_input({2, 4, 3}, 42);  // permuted to [3, 4, 2]
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return softmax(in[0].permute({2, 1, 0}), dim); }, {base});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return log_softmax(in[0].permute({2, 1, 0}), dim); }, {base});
  }
  // a sliced view with a step, and a 1-D input
  Tensor wide = random_input({3, 8}, 43);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return softmax(in[0].slice(1, 1, 8, 2), 1); }, {wide});
  Tensor line = random_input({6}, 44);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {line});
}

TEST_CASE("softmax refuses bad dims and integer tensors", "[softmax]") {
  Tensor x = f64({1, 2, 3, 4}, {2, 2});
  CHECK_THROWS_WITH_TEXT(softmax(x, 2), "softmax: dim 2 is out of range for a tensor of 2 dims");
  CHECK_THROWS_WITH_TEXT(log_softmax(x, -3), "log_softmax: dim -3 is out of range");
  CHECK_THROWS_WITH_TEXT(softmax(arange(4, {.dtype = DType::Int64}), 0), "float32 or float64");
}
