// Losses: values against naive formulas written from their definitions (PyTorch's semantics for
// ignore_index, label smoothing and the reductions), stability, gradient checks for every input
// (strided too) and every reduction, and the messages for bad targets and shapes.
#include <cmath>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

Tensor i64(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Int64});
}

double reduce_naive(const std::vector<double>& losses, Reduction r, double count) {
  double s = 0;
  for (double v : losses) s += v;
  return r == Reduction::Sum ? s : s / count;
}

// Cross-entropy straight from its definition, for logits [N, C, D] (row-major) and targets [N, D]:
// logp = log softmax over C ;  loss = (1 − ε)·(−logp[t]) + ε·mean_c(−logp[c]) ;  ignored positions give 0
// and are left out of the mean's count (both terms, as in PyTorch).
std::vector<double> naive_cross_entropy(const std::vector<double>& x, const std::vector<int64_t>& t, int64_t n,
                                        int64_t c, int64_t d, int64_t ignore, double eps, double* count) {
  std::vector<double> out;
  *count = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      auto at = [&](int64_t cls) { return x[size_t((i * c + cls) * d + k)]; };
      int64_t target = t[size_t(i * d + k)];
      if (target == ignore) {
        out.push_back(0);
        continue;
      }
      double total = 0;
      for (int64_t j = 0; j < c; ++j) total += std::exp(at(j));
      double nll = -(at(target) - std::log(total)), smooth = 0;
      for (int64_t j = 0; j < c; ++j) smooth += -(at(j) - std::log(total)) / double(c);
      out.push_back((1 - eps) * nll + eps * smooth);
      *count += 1;
    }
  return out;
}

}  // namespace

TEST_CASE("cross_entropy: hand values", "[loss]") {
  // logits [1, 2, 3], target 2: lse = ln(e + e² + e³), loss = lse − 3
  double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  Tensor logits = f64({1, 2, 3}, {1, 3});
  CHECK_CLOSE(cross_entropy(logits, i64({2}, {1})), {lse - 3}, 1e-14, 1e-14);
  // label smoothing 0.2: 0.8·(lse − 3) + 0.2·((lse − 1) + (lse − 2) + (lse − 3))/3
  CHECK_CLOSE(cross_entropy(logits, i64({2}, {1}), {.label_smoothing = 0.2}),
              {0.8 * (lse - 3) + 0.2 * (3 * lse - 6) / 3}, 1e-14, 1e-14);
  // two equal logits: ln 2 whatever the target
  CHECK_CLOSE(cross_entropy(f64({0, 0, 5, 5}, {2, 2}), i64({0, 1}, {2})), {std::log(2.0)}, 1e-15, 1e-14);
  // unbatched: logits [C], a 0-d target
  Tensor one = cross_entropy(f64({1, 2, 3}, {3}), i64({2}, {}), {.reduction = Reduction::None});
  CHECK(one.shape() == Shape{});
  CHECK_CLOSE(one, {lse - 3}, 1e-14, 1e-14);
}

TEST_CASE("cross_entropy matches the naive formula: ignore_index, label smoothing, reductions, extra dims", "[loss]") {
  const int64_t n = 4, c = 5, d = 3;
  Tensor x3 = random_input({n, c, d}, 51, -3, 3).detach();
  std::vector<double> xs = x3.to_vector<double>();
  std::vector<int64_t> ts = {0, 4, -100, 2, 2, 1, -100, 3, 0, 4, 1, -100};  // [n, d], some ignored
  Tensor t3 = i64(ts, {n, d});
  for (double eps : {0.0, 0.1, 1.0}) {
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      INFO("label_smoothing " << eps << " reduction " << int(r));
      double count = 0;
      std::vector<double> per = naive_cross_entropy(xs, ts, n, c, d, -100, eps, &count);
      CHECK(count == 9);
      CrossEntropyOptions opt{.label_smoothing = eps, .reduction = r};
      Tensor y = cross_entropy(x3, t3, opt);
      if (r == Reduction::None) {
        CHECK(y.shape() == Shape{n, d});
        CHECK_CLOSE(y, per, 1e-13, 1e-12);
      } else {
        CHECK(y.shape() == Shape{});
        CHECK_CLOSE(y, {reduce_naive(per, r, count)}, 1e-13, 1e-12);
      }
      // the same values in float32 and through a non-contiguous view of the logits
      Tensor strided = contiguous(x3.permute({2, 0, 1})).permute({1, 2, 0});
      REQUIRE(!strided.is_contiguous());
      CHECK_CLOSE(cross_entropy(strided, t3, opt), y, 1e-13, 1e-12);
      CHECK_CLOSE(cross_entropy(x3.to(DType::Float32), t3, opt), y, 1e-5, 1e-5);
    }
  }
  // [N, C] with a custom ignore_index, label smoothing and the mean over non-ignored rows
  Tensor x2 = random_input({6, 4}, 52).detach();
  std::vector<int64_t> t2 = {3, 1, 1, 0, 1, 2};  // ignore_index 1
  double count = 0;
  std::vector<double> per = naive_cross_entropy(x2.to_vector<double>(), t2, 6, 4, 1, 1, 0.3, &count);
  CHECK(count == 3);
  CHECK_CLOSE(cross_entropy(x2, i64(t2, {6}), {.ignore_index = 1, .label_smoothing = 0.3}),
              {reduce_naive(per, Reduction::Mean, count)}, 1e-13, 1e-12);
  // every target ignored: the mean is 0/0 = NaN (PyTorch), the sum 0
  Tensor all_ignored = i64({-100, -100}, {2});
  CHECK(std::isnan(cross_entropy(f64({1, 2, 3, 4}, {2, 2}), all_ignored).item()));
  CHECK(cross_entropy(f64({1, 2, 3, 4}, {2, 2}), all_ignored, {.reduction = Reduction::Sum}).item() == 0);
  Tensor leaf = f64({1, 2, 3, 4}, {2, 2}, true);
  cross_entropy(leaf, all_ignored).backward();  // no target counts: zero gradients, not NaN
  CHECK_CLOSE(leaf.grad(), {0, 0, 0, 0}, 0.0, 0.0);
}

TEST_CASE("cross_entropy is stable for large logits", "[loss]") {
  Tensor big = f64({1000, 0, -1000, 500}, {2, 2});
  Tensor y = cross_entropy(big, i64({0, 0}, {2}), {.reduction = Reduction::None});
  CHECK_CLOSE(y, {0.0, 1500.0}, 1e-9, 1e-12);
  CHECK_CLOSE(cross_entropy(big.to(DType::Float32), i64({1, 1}, {2}), {.reduction = Reduction::None}), {1000.0, 0.0},
              1e-3, 1e-6);
}

TEST_CASE("cross_entropy: gradient checks", "[loss][gradcheck]") {
  SECTION("[N, C], mean with ignore_index and label smoothing") {
    Tensor x = random_input({5, 4}, 61);
    Tensor t = i64({0, 3, -100, 1, 3}, {5});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return cross_entropy(in[0], t, {.label_smoothing = 0.15});
    }, {x});
  }
  SECTION("[N, C, d1, d2], no reduction, strided logits") {
    Tensor base = random_input({3, 2, 4, 2}, 62);  // permuted to [N=2, C=4, 3, 2]
    Tensor t = i64({0, 3, 1, 2, 2, -100, 3, 3, 0, 1, 1, 0}, {2, 3, 2});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return cross_entropy(in[0].permute({1, 2, 0, 3}), t, {.reduction = Reduction::None});
    }, {base});
  }
  SECTION("sum reduction, a custom ignore_index, transposed logits") {
    Tensor base = random_input({3, 4}, 63);  // transposed to [N=4, C=3]
    Tensor t = i64({2, 0, 1, 2}, {4});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return cross_entropy(in[0].t(), t, {.ignore_index = 0, .label_smoothing = 0.4, .reduction = Reduction::Sum});
    }, {base});
  }
  SECTION("unbatched") {
    Tensor x = random_input({6}, 64);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], i64({4}, {})); }, {x});
  }
}

TEST_CASE("cross_entropy refuses bad targets and shapes", "[loss]") {
  Tensor x = f64(std::vector<double>(10, 0.5), {2, 5});
  CHECK_THROWS_WITH_TEXT(cross_entropy(x, i64({1, 7}, {2})), "cross_entropy: target 7 is out of range for 5 classes");
  CHECK_THROWS_WITH_TEXT(cross_entropy(x, i64({-1, 0}, {2})), "target -1 is out of range for 5 classes");
  CHECK_THROWS_WITH_TEXT(cross_entropy(x, i64({0, 1, 2}, {3})), "target shape [3] does not match logits shape [2, 5]");
  CHECK_THROWS_WITH_TEXT(cross_entropy(f64(std::vector<double>(12, 0), {2, 3, 2}), i64({0, 1}, {2})),
                         "(expected target [2, 2]");
  CHECK_THROWS_WITH_TEXT(cross_entropy(x, f64({0, 1}, {2})), "target must hold int64 class indices, got float64");
  CHECK_THROWS_WITH_TEXT(cross_entropy(x, i64({0, 1}, {2}), {.label_smoothing = 1.5}),
                         "label_smoothing must be between 0.0 and 1.0");
  CHECK_THROWS_WITH_TEXT(cross_entropy(f64({1, 2}, {2}), i64({0, 1}, {2})), "target must be 0-d");
  CHECK_THROWS_WITH_TEXT(cross_entropy(f64({1}, {}), i64({0}, {})), "logits must have a class dim");
}

TEST_CASE("binary_cross_entropy_with_logits, mse_loss and gaussian_kl match naive formulas", "[loss]") {
  Tensor x = random_input({3, 4}, 71, -3, 3).detach(), t = random_input({3, 4}, 72, 0, 1).detach();
  std::vector<double> xs = x.to_vector<double>(), ts = t.to_vector<double>();
  std::vector<double> bce, mse, kl;
  for (size_t i = 0; i < xs.size(); ++i) {
    double p = 1 / (1 + std::exp(-xs[i]));
    bce.push_back(-(ts[i] * std::log(p) + (1 - ts[i]) * std::log(1 - p)));
    mse.push_back((xs[i] - ts[i]) * (xs[i] - ts[i]));
    kl.push_back(-0.5 * (1 + ts[i] - xs[i] * xs[i] - std::exp(ts[i])));  // mu = x, logvar = t
  }
  Tensor xt = contiguous(x.t()).t();  // the same values through a transposed view
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << int(r));
    auto expect = [&](const std::vector<double>& per) {
      return r == Reduction::None ? per : std::vector<double>{reduce_naive(per, r, double(per.size()))};
    };
    CHECK_CLOSE(binary_cross_entropy_with_logits(x, t, r), expect(bce), 1e-13, 1e-12);
    CHECK_CLOSE(binary_cross_entropy_with_logits(xt, t, r), expect(bce), 1e-13, 1e-12);
    CHECK_CLOSE(mse_loss(x, t, r), expect(mse), 1e-13, 1e-12);
    CHECK_CLOSE(mse_loss(xt, t, r), expect(mse), 1e-13, 1e-12);
    CHECK_CLOSE(gaussian_kl(x, t, r), expect(kl), 1e-13, 1e-12);
    CHECK_CLOSE(gaussian_kl(x.to(DType::Float32), t.to(DType::Float32), r), expect(kl), 1e-5, 1e-5);
  }
  // the defaults: mean for BCE and MSE, sum for the KL
  CHECK(binary_cross_entropy_with_logits(x, t).shape() == Shape{});
  CHECK_CLOSE(mse_loss(f64({1, 2}, {2}), f64({0, 0}, {2})), {2.5}, 1e-15, 0.0);
  CHECK_CLOSE(gaussian_kl(f64({0, 1}, {2}), f64({0, 0}, {2})), {0.5}, 1e-15, 0.0);  // N(1, 1) vs N(0, 1): ½
  CHECK(std::isnan(mse_loss(zeros({0}, {.dtype = DType::Float64}), zeros({0}, {.dtype = DType::Float64})).item()));
}

TEST_CASE("binary_cross_entropy_with_logits is stable for large logits", "[loss]") {
  Tensor x = f64({100, -100, 800, -800}, {4});
  Tensor t = f64({0, 1, 1, 0}, {4});
  CHECK_CLOSE(binary_cross_entropy_with_logits(x, t, Reduction::None), {100.0, 100.0, 0.0, 0.0}, 1e-12, 1e-12);
  CHECK_CLOSE(binary_cross_entropy_with_logits(x.to(DType::Float32), t.to(DType::Float32), Reduction::None),
              {100.0, 100.0, 0.0, 0.0}, 1e-5, 1e-6);
}

TEST_CASE("pointwise losses: gradient checks for both inputs", "[loss][gradcheck]") {
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    INFO("reduction " << int(r));
    Tensor x = random_input({3, 4}, 81), t = random_input({3, 4}, 82, 0.05, 0.95);
    Tensor xb = random_input({4, 3}, 83);  // transposed inside: non-contiguous
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); },
                    {x, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return binary_cross_entropy_with_logits(in[0].t(), in[1], r);
    }, {xb, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); }, {x, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return mse_loss(in[1], in[0].t(), r); }, {xb, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gaussian_kl(in[0], in[1], r); }, {x, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gaussian_kl(in[0].t(), in[1], r); }, {xb, t});
  }
  // only one input requiring grad
  Tensor x = random_input({5}, 84);
  Tensor fixed = random_input({5}, 85).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return mse_loss(in[0], fixed); }, {x});
}

TEST_CASE("pointwise losses refuse mismatched shapes and dtypes", "[loss]") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_TEXT(mse_loss(a, f64({1, 2, 3}, {3})), "mse_loss: target shape [3] does not match input shape [2, 3]");
  CHECK_THROWS_WITH_TEXT(binary_cross_entropy_with_logits(a, f64({1, 2}, {2, 1})),
                         "binary_cross_entropy_with_logits: target shape [2, 1] does not match logits shape [2, 3]");
  CHECK_THROWS_WITH_TEXT(gaussian_kl(a, a.t()), "gaussian_kl: logvar shape [3, 2] does not match mu shape [2, 3]");
  CHECK_THROWS_WITH_TEXT(mse_loss(a, a.to(DType::Float32)), "mse_loss: dtype mismatch");
  CHECK_THROWS_WITH_TEXT(mse_loss(a, arange(6, {.dtype = DType::Int64}).reshape({2, 3})), "float32 or float64");
}
