// Reductions: values against naive loops over explicit index groups, ties, NaN and edge cases,
// gradient checks over several dims/keepdim combinations and strided inputs, and bad arguments.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The values of x (row-major) grouped by output element: group k holds every element that reduces
// into output k (kept dims in row-major order), in row-major order of the reduced dims.
std::vector<std::vector<double>> naive_groups(const Shape& shape, const std::vector<double>& x,
                                              std::vector<int64_t> dims) {
  int64_t nd = int64_t(shape.size());
  if (dims.empty())
    for (int64_t d = 0; d < nd; ++d) dims.push_back(d);
  for (int64_t& d : dims) d = d < 0 ? d + nd : d;
  auto reduced = [&](int64_t d) { return std::find(dims.begin(), dims.end(), d) != dims.end(); };
  int64_t out_n = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced(d)) out_n *= shape[d];
  std::vector<std::vector<double>> groups(static_cast<size_t>(out_n));
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t rem = int64_t(i), k = 0, k_stride = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      if (!reduced(d)) {
        k += idx * k_stride;
        k_stride *= shape[d];
      }
    }
    groups[size_t(k)].push_back(x[i]);
  }
  return groups;
}

std::vector<double> naive_reduce(const Shape& shape, const std::vector<double>& x, const std::vector<int64_t>& dims,
                                 const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> out;
  for (const auto& g : naive_groups(shape, x, dims)) out.push_back(f(g));
  return out;
}

double naive_sum(const std::vector<double>& g) {
  double s = 0;
  for (double v : g) s += v;
  return s;
}
double naive_mean(const std::vector<double>& g) { return naive_sum(g) / double(g.size()); }
double naive_var(const std::vector<double>& g, int64_t correction) {
  double m = naive_mean(g), s = 0;
  for (double v : g) s += (v - m) * (v - m);
  return s / double(int64_t(g.size()) - correction);
}
double naive_logsumexp(const std::vector<double>& g) {
  double s = 0;
  for (double v : g) s += std::exp(v);
  return std::log(s);
}

struct ReduceCase {
  const char* name;
  std::function<Tensor(const Tensor&, const std::vector<int64_t>&, bool)> op;
  std::function<double(const std::vector<double>&)> reference;
};

std::vector<ReduceCase> reduce_cases() {
  return {
      {"sum", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return sum(x, d, k); }, naive_sum},
      {"mean", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return mean(x, d, k); }, naive_mean},
      {"amax", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return amax(x, d, k); },
       [](const std::vector<double>& g) { return *std::max_element(g.begin(), g.end()); }},
      {"amin", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return amin(x, d, k); },
       [](const std::vector<double>& g) { return *std::min_element(g.begin(), g.end()); }},
      {"var", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return var(x, d, 1, k); },
       [](const std::vector<double>& g) { return naive_var(g, 1); }},
      {"var_correction0", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return var(x, d, 0, k); },
       [](const std::vector<double>& g) { return naive_var(g, 0); }},
      {"stddev", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return stddev(x, d, 1, k); },
       [](const std::vector<double>& g) { return std::sqrt(naive_var(g, 1)); }},
      {"stddev_correction2", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return stddev(x, d, 2, k); },
       [](const std::vector<double>& g) { return std::sqrt(naive_var(g, 2)); }},
      {"logsumexp", [](const Tensor& x, const std::vector<int64_t>& d, bool k) { return logsumexp(x, d, k); },
       naive_logsumexp},
  };
}

const std::vector<std::vector<int64_t>> kDimLists = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {1, 2}, {0, 1, 2}};

}  // namespace

TEST_CASE("reductions match naive loops for every dims/keepdim combination", "[reduce]") {
  const Shape shape = {3, 4, 5};
  Tensor x = random_input(shape, 3).detach();
  std::vector<double> xs = x.to_vector<double>();
  // the same values reached through a permuted (non-contiguous) view
  Tensor strided = contiguous(permute(x, {2, 0, 1})).permute({1, 2, 0});
  REQUIRE(!strided.is_contiguous());
  for (const ReduceCase& c : reduce_cases()) {
    for (const auto& dims : kDimLists) {
      for (bool keepdim : {false, true}) {
        INFO(c.name << " dims " << shape_str(dims) << " keepdim " << keepdim);
        std::vector<double> expected = naive_reduce(shape, xs, dims, c.reference);
        Tensor y = c.op(x, dims, keepdim);
        std::vector<int64_t> wrapped = wrap_dims(dims, 3, "test");
        CHECK(y.shape() == reduced_shape(shape, wrapped, keepdim));
        CHECK_CLOSE(y, expected, 1e-12, 1e-12);
        CHECK_CLOSE(c.op(strided, dims, keepdim), expected, 1e-12, 1e-12);
        CHECK_CLOSE(c.op(x.to(DType::Float32), dims, keepdim), expected, 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("reductions: hand-computed values", "[reduce]") {
  Tensor x = f64({1, 5, 3, 4, 2, 6}, {2, 3});
  CHECK_CLOSE(amax(x, {1}), {5, 6}, 0.0, 0.0);
  CHECK_CLOSE(amin(x, {0}), {1, 2, 3}, 0.0, 0.0);
  CHECK_CLOSE(amax(x), {6}, 0.0, 0.0);
  auto [values, indices] = max(x, 1);
  CHECK_CLOSE(values, {5, 6}, 0.0, 0.0);
  CHECK(indices.dtype() == DType::Int64);
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  auto [mins, min_idx] = min(x, 0, true);
  CHECK(mins.shape() == Shape{1, 3});
  CHECK_CLOSE(mins, {1, 2, 3}, 0.0, 0.0);
  CHECK(min_idx.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  CHECK(argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
  CHECK(argmin(x, -1, true).shape() == Shape{2, 1});
  CHECK(argmin(x, -1).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  // var([1, 5, 3, 4, 2, 6]) = 17.5/5 = 3.5 (mean 3.5); with correction 0: 17.5/6
  CHECK_CLOSE(var(x), {3.5}, 1e-12, 1e-12);
  CHECK_CLOSE(var(x, {}, 0), {17.5 / 6}, 1e-12, 1e-12);
  CHECK_CLOSE(stddev(x, {1}), {2.0, 2.0}, 1e-12, 1e-12);  // rows: var [1,5,3] = 4, var [4,2,6] = 4
  CHECK_CLOSE(logsumexp(f64({0, 0, 0, 0}, {4}), {0}), {std::log(4.0)}, 1e-12, 1e-12);
}

TEST_CASE("reductions: ties, NaN, infinities and 0-d tensors", "[reduce]") {
  SECTION("amax/amin share the gradient evenly among ties") {
    Tensor x = f64({1, 3, 3, 2, 3, 0}, {6}, true);
    amax(x).backward();
    CHECK_CLOSE(x.grad(), {0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3, 0}, 1e-15, 0.0);
    Tensor y = f64({2, 2, 1, 0, 4, 0}, {2, 3}, true);
    sum(mul(amin(y, {1}), f64({10, 100}, {2}))).backward();
    CHECK_CLOSE(y.grad(), {0, 0, 10, 50, 0, 50}, 1e-12, 0.0);
  }
  SECTION("max/min along a dim pick the first index among ties and send the gradient there") {
    Tensor x = f64({3, 1, 3, 0, 0, -1}, {2, 3}, true);
    auto [values, indices] = max(x, 1);
    CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{0, 0});
    CHECK(!indices.requires_grad());
    sum(values).backward();
    CHECK_CLOSE(x.grad(), {1, 0, 0, 1, 0, 0}, 0.0, 0.0);
    CHECK(argmin(f64({2, 1, 1, 1}, {4}), 0).item() == 1);
    CHECK(argmax(f64({2, 1, 2, 1}, {4}), 0).item() == 0);
  }
  SECTION("NaN propagates through max/min/amax like PyTorch") {
    Tensor x = f64({1, kNaN, 3}, {3});
    CHECK(std::isnan(amax(x).item()));
    CHECK(std::isnan(amin(x).item()));
    auto [v, i] = max(x, 0);
    CHECK(std::isnan(v.item()));
    CHECK(i.item() == 1);
    CHECK(argmin(x, 0).item() == 1);
  }
  SECTION("logsumexp is stable for large and infinite inputs") {
    CHECK_CLOSE(logsumexp(f64({1000, 1000}, {2}), {0}), {1000 + std::log(2.0)}, 1e-9, 1e-12);
    CHECK_CLOSE(logsumexp(f64({-1000, -1000}, {2}), {0}), {-1000 + std::log(2.0)}, 1e-9, 1e-12);
    CHECK_CLOSE(logsumexp(f64({1000, 1000}, {2}).to(DType::Float32), {0}), {1000 + std::log(2.0)}, 1e-3, 1e-6);
    CHECK(logsumexp(f64({-kInf, -kInf}, {2}), {0}).item() == -kInf);
    CHECK(logsumexp(f64({kInf, 1}, {2}), {0}).item() == kInf);
    CHECK_CLOSE(logsumexp(f64({-kInf, 0}, {2}), {0}), {0.0}, 0.0, 0.0);
  }
  SECTION("var/std with no degrees of freedom left give NaN, as torch.var does") {
    CHECK(std::isnan(var(f64({2}, {1})).item()));
    CHECK(var(f64({2}, {1}), {}, 0).item() == 0);
    CHECK(std::isinf(var(f64({1, 2}, {2}), {}, 2).item()));
    Tensor flat = f64({2, 2, 2}, {3}, true);  // std = 0: PyTorch's gradient is 0 there, not NaN
    stddev(flat).backward();
    CHECK_CLOSE(flat.grad(), {0, 0, 0}, 0.0, 0.0);
  }
  SECTION("0-d tensors reduce to themselves") {
    Tensor s = f64({2.5}, {}, true);
    CHECK_CLOSE(sum(s, {0}), {2.5}, 0.0, 0.0);
    CHECK(amax(s, {-1}).shape() == Shape{});
    auto [v, i] = max(s, 0);
    CHECK(v.shape() == Shape{});
    CHECK(i.shape() == Shape{});
    CHECK(i.item() == 0);
    v.backward();
    CHECK_CLOSE(s.grad(), {1}, 0.0, 0.0);
  }
}

TEST_CASE("reductions: gradient checks over dims, keepdim and strided inputs", "[reduce][gradcheck]") {
  // the gradcheck stays away from ties: uniform values are distinct
  for (const ReduceCase& c : reduce_cases()) {
    for (const auto& dims : std::vector<std::vector<int64_t>>{{}, {1}, {-1}, {0, 2}}) {
      for (bool keepdim : {false, true}) {
        INFO(c.name << " dims " << shape_str(dims) << " keepdim " << keepdim);
        Tensor x = random_input({2, 3, 4}, 21);
        CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.op(in[0], dims, keepdim); }, {x});
        Tensor base = random_input({4, 2, 3}, 22);  // permuted to [2, 3, 4] inside: non-contiguous
        CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return c.op(in[0].permute({1, 2, 0}), dims, keepdim); },
                        {base});
      }
    }
  }
}

TEST_CASE("max/min along a dim: gradient checks", "[reduce][gradcheck]") {
  for (int64_t dim : {0, 1, -1}) {
    for (bool keepdim : {false, true}) {
      INFO("dim " << dim << " keepdim " << keepdim);
      Tensor x = random_input({3, 4, 2}, 31);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return max(in[0], dim, keepdim).first; }, {x});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return min(in[0], dim, keepdim).first; }, {x});
      Tensor base = random_input({4, 3}, 32);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return max(in[0].t(), dim == 0 ? 0 : 1, keepdim).first; },
                      {base});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return min(in[0].t(), dim == 0 ? 0 : 1, keepdim).first; },
                      {base});
    }
  }
}

TEST_CASE("reductions refuse bad dims, dtypes and empty max/min", "[reduce]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_TEXT(amax(x, {2}), "amax: dim 2 is out of range for a tensor of 2 dims");
  CHECK_THROWS_WITH_TEXT(var(x, {0, -2}), "a dim appears twice");
  CHECK_THROWS_WITH_TEXT(max(x, -3), "max_dim: dim -3 is out of range");
  CHECK_THROWS_WITH_TEXT(argmin(x, 5), "argmin: dim 5 is out of range");
  CHECK_THROWS_WITH_TEXT(logsumexp(arange(4, {.dtype = DType::Int64}), {0}), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(stddev(x, {}, -1), "stddev: correction must be non-negative");
  Tensor empty_rows = zeros({2, 0}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(amax(empty_rows, {1}), "amax: cannot reduce dim 1 of size 0");
  CHECK_THROWS_WITH_TEXT(argmax(empty_rows, 1), "argmax: cannot reduce dim 1 of size 0");
  CHECK(amin(empty_rows, {0}).shape() == Shape{0});  // reducing a non-empty dim of an empty tensor is fine
  CHECK(sum(empty_rows, {1}).to_vector<double>() == std::vector<double>{0, 0});
}
