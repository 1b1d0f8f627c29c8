// Normalization and dropout: values against naive loops written here, running statistics, eval
// mode, dropout's mask (reproducible, right rate, right scale), gradient checks and errors.
#include <cmath>
#include <vector>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

// Naive normalization of x viewed as [N, C, S] with statistics per channel (over n, s) — batch norm.
std::vector<double> naive_batch_norm(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                                     const std::vector<double>& mean, const std::vector<double>& var,
                                     const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) {
        size_t at = size_t((n * C + c) * S + s);
        y[at] = (x[at] - mean[c]) / std::sqrt(var[c] + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
      }
  return y;
}

// Per-channel batch mean and variance (biased when correction = 0, unbiased when 1).
void channel_stats(const std::vector<double>& x, int64_t N, int64_t C, int64_t S, int correction,
                   std::vector<double>& mean, std::vector<double>& var) {
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mean[c] += x[size_t((n * C + c) * S + s)];
    mean[c] /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        double d = x[size_t((n * C + c) * S + s)] - mean[c];
        var[c] += d * d;
      }
    var[c] /= double(N * S - correction);
  }
}

// Naive layer norm of rows of length K with per-position weight/bias.
std::vector<double> naive_layer_norm(const std::vector<double>& x, int64_t K, const std::vector<double>& w,
                                     const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / size_t(K); ++r) {
    double mu = 0, var = 0;
    for (int64_t k = 0; k < K; ++k) mu += x[r * K + k];
    mu /= double(K);
    for (int64_t k = 0; k < K; ++k) var += (x[r * K + k] - mu) * (x[r * K + k] - mu);
    var /= double(K);
    for (int64_t k = 0; k < K; ++k)
      y[r * K + k] = (x[r * K + k] - mu) / std::sqrt(var + eps) * (w.empty() ? 1.0 : w[k]) + (b.empty() ? 0.0 : b[k]);
  }
  return y;
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

// ------------------------------------------------------------------------------------ batch_norm

TEST_CASE("batch_norm training: batch statistics and running-stat update like PyTorch", "[norm]") {
  const int64_t N = 2, C = 3, S = 4;
  Tensor x = random_input({N, C, 2, 2}, 1, -2, 3).detach();
  Tensor w = f64({0.5, 1.5, -1.0}, {C}), b = f64({0.1, -0.2, 0.3}, {C});
  Tensor rm = f64({0.5, -1.0, 2.0}, {C}), rv = f64({1.0, 2.0, 0.5}, {C});
  std::vector<double> xs = values(x), mean, var_b, var_u, unused;
  channel_stats(xs, N, C, S, 0, mean, var_b);
  channel_stats(xs, N, C, S, 1, unused, var_u);
  Tensor y = batch_norm(x, w, b, rm, rv, true, 0.2, 1e-3);
  CHECK_CLOSE(y, naive_batch_norm(xs, N, C, S, mean, var_b, values(w), values(b), 1e-3), 1e-12, 1e-12);
  std::vector<double> rm_expected, rv_expected;
  std::vector<double> rm0{0.5, -1.0, 2.0}, rv0{1.0, 2.0, 0.5};
  for (int64_t c = 0; c < C; ++c) {
    rm_expected.push_back(0.8 * rm0[c] + 0.2 * mean[c]);
    rv_expected.push_back(0.8 * rv0[c] + 0.2 * var_u[c]);  // the unbiased variance
  }
  CHECK_CLOSE(rm, rm_expected, 1e-12, 1e-12);
  CHECK_CLOSE(rv, rv_expected, 1e-12, 1e-12);

  SECTION("hand values on [4, 1]: mean 2.5, biased var 1.25, unbiased 5/3") {
    Tensor x1 = f64({1, 2, 3, 4}, {4, 1});
    Tensor m = zeros({1}, {.dtype = DType::Float64}), v = ones({1}, {.dtype = DType::Float64});
    Tensor y1 = batch_norm(x1, Tensor(), Tensor(), m, v, true, 0.1, 0.0);
    const double r = 1 / std::sqrt(1.25);
    CHECK_CLOSE(y1, {-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r}, 1e-12, 1e-12);
    CHECK_CLOSE(m, {0.25}, 1e-12, 1e-12);
    CHECK_CLOSE(v, {0.9 + 0.1 * 5.0 / 3.0}, 1e-12, 1e-12);
  }
  SECTION("without running statistics, training still normalizes with the batch") {
    Tensor y2 = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    CHECK_CLOSE(y2, naive_batch_norm(xs, N, C, S, mean, var_b, {}, {}, 1e-5), 1e-12, 1e-12);
  }
  SECTION("float32 running stats with float32 input") {
    Tensor rm32 = zeros({C}), rv32 = ones({C});
    Tensor y32 = batch_norm(x.to(DType::Float32), Tensor(), Tensor(), rm32, rv32, true);
    CHECK_CLOSE(y32, naive_batch_norm(xs, N, C, S, mean, var_b, {}, {}, 1e-5), 1e-5, 1e-5);
    std::vector<double> m_expected;
    for (double m : mean) m_expected.push_back(0.1 * m);
    CHECK_CLOSE(rm32, m_expected, 1e-6, 1e-5);
  }
}

TEST_CASE("batch_norm eval uses the running statistics and leaves them unchanged", "[norm]") {
  Tensor x = random_input({5, 3}, 2).detach();
  Tensor w = f64({0.5, 1.5, -1.0}, {3}), b = f64({0.1, -0.2, 0.3}, {3});
  Tensor rm = f64({0.5, -1.0, 2.0}, {3}), rv = f64({1.0, 2.0, 0.5}, {3});
  Tensor y = batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5);
  CHECK_CLOSE(y, naive_batch_norm(values(x), 5, 3, 1, values(rm), values(rv), values(w), values(b), 1e-5), 1e-12,
              1e-12);
  CHECK_CLOSE(rm, {0.5, -1.0, 2.0}, 0, 0);
  CHECK_CLOSE(rv, {1.0, 2.0, 0.5}, 0, 0);

  SECTION("the backward uses the statistics of the forward even if the buffers change afterwards") {
    Tensor xg = random_input({5, 3}, 3);
    Tensor out = batch_norm(xg, Tensor(), Tensor(), rm, rv, false);
    rv.fill_(4.0);
    sum(out).backward();
    std::vector<double> expected;
    for (int i = 0; i < 5; ++i)
      for (double v : {1.0, 2.0, 0.5}) expected.push_back(1 / std::sqrt(v + 1e-5));
    CHECK_CLOSE(xg.grad(), expected, 1e-12, 1e-12);
  }
}

TEST_CASE("batch_norm training backward: hand-checked dx = (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂))", "[norm]") {
  Tensor x = f64({1, 2, 3, 4}, {4, 1}, true), w = f64({2.0}, {1}, true), b = f64({0.0}, {1}, true);
  Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 0.0);
  Tensor dy = f64({1, 0, 0, 0}, {4, 1});
  y.backward(dy);
  const double r = 1 / std::sqrt(1.25);
  std::vector<double> xhat{-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r}, expected;
  const double mean_dy = 0.25, mean_dy_xhat = xhat[0] / 4;
  for (int i = 0; i < 4; ++i) expected.push_back(2 * r * ((i == 0 ? 1 : 0) - mean_dy - xhat[i] * mean_dy_xhat));
  CHECK_CLOSE(x.grad(), expected, 1e-12, 1e-12);
  CHECK_CLOSE(w.grad(), {xhat[0]}, 1e-12, 1e-12);
  CHECK_CLOSE(b.grad(), {1.0}, 1e-12, 1e-12);
}

TEST_CASE("batch_norm: gradient checks (training and eval, 2-D and 4-D, optional affine, strided)",
          "[norm][gradcheck]") {
  Tensor rm = f64({0.3, -0.4, 0.1}, {3}), rv = f64({1.2, 0.7, 2.0}, {3});
  Tensor w = random_input({3}, 21, 0.5, 1.5), b = random_input({3}, 22);
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor x4 = random_input({2, 3, 2, 3}, 23), x2 = random_input({5, 3}, 24);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, training); },
                    {x4, w, b});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, training); },
                    {x2, w, b});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), rm, rv, training); },
                    {x4});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], Tensor(), rm, rv, training); },
                    {x2, w});
    // a non-contiguous input: [3, 2, 4] permuted to [2, 3, 4]; bias only
    Tensor base = random_input({3, 2, 4}, 25);
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return batch_norm(in[0].permute({1, 0, 2}), Tensor(), in[1], rm, rv, training); },
        {base, b});
  }
  // training without running statistics, and a squared output so the gradient is not trivially structured
  Tensor x = random_input({4, 3}, 26);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return square(batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true)); },
                  {x, w, b});
}

TEST_CASE("batch_norm: bad shapes and arguments", "[norm]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_TEXT(batch_norm(f64({1, 2}, {2}), Tensor(), Tensor(), Tensor(), Tensor(), true), "at least 2");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, f64({1, 2}, {2}), Tensor(), Tensor(), Tensor(), true), "weight has shape [2]");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, Tensor(), f64({1, 2, 3, 4}, {4}), Tensor(), Tensor(), true), "bias has shape");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, Tensor(), Tensor(), f64({0, 0}, {2}), f64({1, 1}, {2}), true),
                         "running_mean has shape [2]");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, Tensor(), Tensor(), f64({0, 0, 0}, {3}), Tensor(), true), "given together");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), "evaluation mode");
  CHECK_THROWS_WITH_TEXT(batch_norm(f64({1, 2, 3}, {1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                         "more than 1 value per channel");
  CHECK_THROWS_WITH_TEXT(batch_norm(x, ones({3}), Tensor(), Tensor(), Tensor(), true), "dtype float32");
}

// ------------------------------------------------------------------------------------ layer_norm

TEST_CASE("layer_norm matches a naive loop over 1 and 2 normalized dims", "[norm]") {
  Tensor x = random_input({2, 3, 4}, 31, -2, 3).detach();
  Tensor w1 = random_input({4}, 32).detach(), b1 = random_input({4}, 33).detach();
  CHECK_CLOSE(layer_norm(x, {4}, w1, b1, 1e-5), naive_layer_norm(values(x), 4, values(w1), values(b1), 1e-5), 1e-12,
              1e-12);
  CHECK_CLOSE(layer_norm(x, {4}), naive_layer_norm(values(x), 4, {}, {}, 1e-5), 1e-12, 1e-12);
  Tensor w2 = random_input({3, 4}, 34).detach(), b2 = random_input({3, 4}, 35).detach();
  CHECK_CLOSE(layer_norm(x, {3, 4}, w2, b2, 1e-3), naive_layer_norm(values(x), 12, values(w2), values(b2), 1e-3),
              1e-12, 1e-12);
  CHECK_CLOSE(layer_norm(x.to(DType::Float32), {3, 4}), naive_layer_norm(values(x), 12, {}, {}, 1e-5), 1e-5, 1e-5);
  // hand values: [1, 3] → mean 2, var 1 → ±1/√(1 + ε)
  CHECK_CLOSE(layer_norm(f64({1, 3}, {1, 2}), {2}, Tensor(), Tensor(), 0.0), {-1.0, 1.0}, 1e-12, 1e-12);
}

TEST_CASE("layer_norm: gradient checks over 1 and 2 dims, with and without affine, strided input",
          "[norm][gradcheck]") {
  Tensor x = random_input({3, 5}, 41), w = random_input({5}, 42, 0.5, 1.5), b = random_input({5}, 43);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1], in[2]); }, {x, w, b});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}); }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1]); }, {x, w});
  Tensor x3 = random_input({2, 3, 4}, 44), w2 = random_input({3, 4}, 45), b2 = random_input({3, 4}, 46);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 4}, in[1], in[2], 1e-3); },
                  {x3, w2, b2});
  Tensor base = random_input({5, 3}, 47);  // transposed: x [3, 5] non-contiguous
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return layer_norm(in[0].t(), {5}, Tensor(), in[1]); }, {base, b});
}

TEST_CASE("layer_norm: bad shapes", "[norm]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_TEXT(layer_norm(x, {2}), "does not match the last dims");
  CHECK_THROWS_WITH_TEXT(layer_norm(x, {1, 2, 3}), "does not match the last dims");
  CHECK_THROWS_WITH_TEXT(layer_norm(x, {}), "at least one dim");
  CHECK_THROWS_WITH_TEXT(layer_norm(x, {3}, f64({1, 2}, {2})), "weight has shape [2], expected [3]");
  CHECK_THROWS_WITH_TEXT(layer_norm(x, {2, 3}, f64({1, 2, 3}, {3})), "expected [2, 3]");
}

// ------------------------------------------------------------------------------------ group_norm

TEST_CASE("group_norm matches a naive loop", "[norm]") {
  const int64_t N = 2, C = 4, S = 3, G = 2;
  Tensor x = random_input({N, C, S}, 51, -2, 3).detach();
  Tensor w = random_input({C}, 52).detach(), b = random_input({C}, 53).detach();
  std::vector<double> xs = values(x), ws = values(w), bs = values(b), expected(xs.size());
  const int64_t size = C / G * S;
  for (int64_t ng = 0; ng < N * G; ++ng) {
    double mu = 0, var = 0;
    for (int64_t e = 0; e < size; ++e) mu += xs[ng * size + e];
    mu /= double(size);
    for (int64_t e = 0; e < size; ++e) var += (xs[ng * size + e] - mu) * (xs[ng * size + e] - mu);
    var /= double(size);
    for (int64_t e = 0; e < size; ++e) {
      int64_t c = (ng % G) * (C / G) + e / S;
      expected[ng * size + e] = (xs[ng * size + e] - mu) / std::sqrt(var + 1e-5) * ws[c] + bs[c];
    }
  }
  CHECK_CLOSE(group_norm(x, G, w, b), expected, 1e-12, 1e-12);
  // one group over a [N, C] input is layer norm over C; C groups on [N, C, S] is instance norm
  Tensor x2 = random_input({3, 4}, 54).detach();
  CHECK_CLOSE(group_norm(x2, 1), layer_norm(x2, {4}), 1e-12, 1e-12);
  CHECK_CLOSE(group_norm(x, C).reshape({N * C, S}), layer_norm(x.reshape({N * C, S}), {S}), 1e-12, 1e-12);
  CHECK_CLOSE(group_norm(x.to(DType::Float32), G, w.to(DType::Float32), b.to(DType::Float32)), expected, 1e-5, 1e-5);
}

TEST_CASE("group_norm: gradient checks", "[norm][gradcheck]") {
  Tensor x = random_input({2, 4, 3}, 61), w = random_input({4}, 62, 0.5, 1.5), b = random_input({4}, 63);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); }, {x, w, b});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return group_norm(in[0], 1); }, {x});
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return group_norm(in[0], 4, in[1]); }, {x, w});
  Tensor x4 = random_input({2, 6, 2, 2}, 64), w6 = random_input({6}, 65), b6 = random_input({6}, 66);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return group_norm(in[0], 3, in[1], in[2], 1e-3); },
                  {x4, w6, b6});
  Tensor base = random_input({3, 2, 4}, 67);  // permuted to [2, 4, 3]: non-contiguous
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return group_norm(in[0].permute({1, 2, 0}), 2, Tensor(), in[1]); },
                  {base, b});
}

TEST_CASE("group_norm: bad shapes", "[norm]") {
  Tensor x = zeros({2, 6, 3}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(group_norm(x, 4), "divisible by num_groups = 4");
  CHECK_THROWS_WITH_TEXT(group_norm(x, 0), "divisible by num_groups = 0");
  CHECK_THROWS_WITH_TEXT(group_norm(f64({1, 2}, {2}), 1), "at least 2");
  CHECK_THROWS_WITH_TEXT(group_norm(x, 2, f64({1, 2}, {2})), "weight has shape [2], expected [6]");
}

// ------------------------------------------------------------------------------------ dropout

TEST_CASE("dropout: mask from the Philox stream, scaled by 1/(1−p), reproducible", "[norm]") {
  Tensor x = random_input({4, 5}, 71, 0.5, 2).detach();
  Generator g1(123), g2(123), g3(124), ref(123);
  Tensor y1 = dropout(x, 0.4, true, g1), y2 = dropout(x, 0.4, true, g2), y3 = dropout(x, 0.4, true, g3);
  CHECK_CLOSE(y1, y2, 0, 0);  // same seed → same mask
  CHECK(values(y1) != values(y3));
  // element i is kept when the i-th uniform of the same generator state is below 1 − p
  std::vector<double> u = values(rand({4, 5}, {.dtype = DType::Float64}, ref)), xs = values(x), expected;
  for (size_t i = 0; i < u.size(); ++i) expected.push_back(u[i] < 0.6 ? xs[i] / 0.6 : 0.0);
  CHECK_CLOSE(y1, expected, 1e-12, 1e-12);
  CHECK(g1.offset() == ref.offset());
  // the generator advanced: a second draw gives another mask
  CHECK(values(dropout(x, 0.4, true, g1)) != values(y1));

  SECTION("float32 follows the same rule with float32 uniforms") {
    Generator gf(5), gref(5);
    Tensor yf = dropout(x.to(DType::Float32), 0.25, true, gf);
    std::vector<double> uf = values(rand({4, 5}, {}, gref)), ef;
    for (size_t i = 0; i < uf.size(); ++i) ef.push_back(uf[i] < 0.75 ? xs[i] / 0.75 : 0.0);
    CHECK_CLOSE(yf, ef, 1e-6, 1e-6);
  }
}

TEST_CASE("dropout: drop rate and mean are right on many elements", "[norm]") {
  Generator gen(7);
  Tensor x = ones({20000}, {.dtype = DType::Float64});
  std::vector<double> y = values(dropout(x, 0.3, true, gen));
  int64_t zeros_count = 0, badly_scaled = 0;
  double total = 0;
  for (double v : y) {
    if (v == 0) ++zeros_count;
    else if (std::fabs(v - 1 / 0.7) > 1e-12) ++badly_scaled;
    total += v;
  }
  CHECK(badly_scaled == 0);  // every kept element is exactly x/(1 − p)
  CHECK(std::fabs(double(zeros_count) / 20000 - 0.3) < 0.015);  // σ ≈ 0.0032
  CHECK(std::fabs(total / 20000 - 1.0) < 0.03);                 // E[y] = x
}

TEST_CASE("dropout: identity in eval and at p = 0, zeros at p = 1, p checked", "[norm]") {
  Tensor x = f64({1, -2, 3}, {3});
  Generator gen(1);
  CHECK(dropout(x, 0.5, false, gen).is_same(x));
  CHECK(dropout(x, 0.0, true, gen).is_same(x));
  CHECK(gen.offset() == 0);  // nothing drawn
  CHECK_CLOSE(dropout(x, 1.0, true, gen), {0, 0, 0}, 0, 0);
  CHECK_THROWS_WITH_TEXT(dropout(x, -0.1, true, gen), "between 0 and 1");
  CHECK_THROWS_WITH_TEXT(dropout(x, 1.5, false, gen), "between 0 and 1");
  CHECK_THROWS_WITH_TEXT(dropout(x, std::nan(""), true, gen), "between 0 and 1");

  SECTION("backward: dx = dy·mask") {
    Tensor xg = random_input({3, 4}, 72);
    Generator g(9);
    Tensor y = dropout(xg, 0.5, true, g);
    y.backward(full({3, 4}, 3.0, {.dtype = DType::Float64}));
    std::vector<double> ys = values(y), xs = values(xg.detach()), grads = values(xg.grad());
    int kept = 0;
    for (size_t i = 0; i < ys.size(); ++i) {
      bool keep = ys[i] != 0;
      kept += keep;
      CHECK(grads[i] == (keep ? 3.0 * 2.0 : 0.0));
    }
    CHECK(kept > 0);
    CHECK(kept < 12);
  }
  SECTION("p = 1 passes a zero gradient") {
    Tensor xg = random_input({3}, 73);
    sum(dropout(xg, 1.0, true, gen)).backward();
    CHECK_CLOSE(xg.grad(), {0, 0, 0}, 0, 0);
  }
}

TEST_CASE("dropout: gradient check with a fixed seed", "[norm][gradcheck]") {
  Tensor x = random_input({4, 6}, 81);
  // A fresh generator with the same seed on every call: the same mask for every evaluation.
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) {
    Generator gen(2024);
    return dropout(in[0], 0.3, true, gen);
  }, {x});
  Tensor base = random_input({6, 4}, 82);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) {
    Generator gen(7);
    return dropout(in[0].t(), 0.5, true, gen);
  }, {base});
}
