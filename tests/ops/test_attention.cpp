// Scaled dot-product attention: values against a naive loop written here (with and without the causal
// mask, Tq ≠ Tk, several batch dims), hand values, gradient checks and errors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

// O = softmax(scale·QKᵀ + mask)·V for contiguous [B, T, D] buffers.
std::vector<double> naive_attention(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, int64_t B, int64_t Tq, int64_t Tk, int64_t D,
                                    int64_t Dv, double scale, bool causal) {
  std::vector<double> out(size_t(B * Tq * Dv), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> s(static_cast<size_t>(Tk));
      for (int64_t j = 0; j < Tk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q[size_t((b * Tq + i) * D + d)] * k[size_t((b * Tk + j) * D + d)];
        s[j] = causal && j > i ? -INFINITY : scale * dot;
      }
      double m = *std::max_element(s.begin(), s.end()), z = 0;
      for (double x : s) z += std::exp(x - m);
      for (int64_t j = 0; j < Tk; ++j)
        for (int64_t e = 0; e < Dv; ++e)
          out[size_t((b * Tq + i) * Dv + e)] += std::exp(s[j] - m) / z * v[size_t((b * Tk + j) * Dv + e)];
    }
  return out;
}

}  // namespace

TEST_CASE("scaled_dot_product_attention matches a naive loop", "[attention]") {
  struct Case {
    Shape batch;
    int64_t Tq, Tk, D, Dv;
    bool causal;
    double scale;
  };
  for (const Case& c : {Case{{2}, 3, 3, 4, 4, false, NAN}, Case{{2}, 4, 4, 3, 5, true, NAN},
                        Case{{2, 3}, 3, 5, 4, 2, false, 0.7}, Case{{2, 3}, 5, 3, 4, 2, true, NAN},
                        Case{{}, 2, 6, 3, 3, true, 0.25}, Case{{1, 2}, 1, 4, 2, 3, false, NAN}}) {
    INFO("batch " << shape_str(c.batch) << " Tq " << c.Tq << " Tk " << c.Tk << " causal " << c.causal);
    Shape qs = c.batch, ks = c.batch, vs = c.batch;
    qs.insert(qs.end(), {c.Tq, c.D});
    ks.insert(ks.end(), {c.Tk, c.D});
    vs.insert(vs.end(), {c.Tk, c.Dv});
    Tensor q = random_input(qs, 1).detach(), k = random_input(ks, 2).detach(), v = random_input(vs, 3).detach();
    const int64_t B = shape_numel(c.batch);
    const double scale = std::isnan(c.scale) ? 1 / std::sqrt(double(c.D)) : c.scale;
    std::vector<double> expected = naive_attention(q.to_vector<double>(), k.to_vector<double>(), v.to_vector<double>(),
                                                   B, c.Tq, c.Tk, c.D, c.Dv, scale, c.causal);
    Tensor out = scaled_dot_product_attention(q, k, v, c.causal, c.scale);
    Shape os = c.batch;
    os.insert(os.end(), {c.Tq, c.Dv});
    CHECK(out.shape() == os);
    CHECK_CLOSE(out, expected, 1e-12, 1e-12);
    Tensor out32 = scaled_dot_product_attention(q.to(DType::Float32), k.to(DType::Float32), v.to(DType::Float32),
                                                c.causal, c.scale);
    CHECK_CLOSE(out32, expected, 1e-5, 1e-5);
  }
}

TEST_CASE("scaled_dot_product_attention: hand values", "[attention]") {
  // Two keys with scores 0 and ln 3 (scale 1): weights 1/4 and 3/4.
  Tensor q = f64({1.0}, {1, 1}), k = f64({0.0, std::log(3.0)}, {2, 1}), v = f64({4.0, 8.0}, {2, 1});
  CHECK_CLOSE(scaled_dot_product_attention(q, k, v, false, 1.0), {7.0}, 1e-12, 1e-12);
  // causal, top-left aligned: query 0 sees only key 0, whatever the scores
  Tensor q2 = f64({1.0, 1.0}, {2, 1});
  CHECK_CLOSE(scaled_dot_product_attention(q2, k, v, true, 1.0), {4.0, 7.0}, 1e-12, 1e-12);
  // the default scale is 1/√D: with D = 4 and q = k rows of 1s, scores are equal → the mean of v
  Tensor q4 = ones({1, 4}, {.dtype = DType::Float64}), k4 = ones({3, 4}, {.dtype = DType::Float64});
  CHECK_CLOSE(scaled_dot_product_attention(q4, k4, f64({1, 2, 6}, {3, 1})), {3.0}, 1e-12, 1e-12);
  // large scores (10⁶ and 10⁶ − 1) do not overflow: weights e¹/(e¹ + 1) and 1/(e¹ + 1)
  Tensor big = f64({1000.0}, {1, 1});
  const double w0 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  CHECK_CLOSE(scaled_dot_product_attention(big, f64({1000.0, 999.999}, {2, 1}), v, false, 1.0),
              {4.0 * w0 + 8.0 * (1 - w0)}, 1e-6, 1e-6);
}

TEST_CASE("scaled_dot_product_attention: gradient checks", "[attention][gradcheck]") {
  Tensor q = random_input({2, 3, 4}, 11), k = random_input({2, 3, 4}, 12), v = random_input({2, 3, 5}, 13);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], causal); },
                    {q, k, v});
    // Tq ≠ Tk both ways, 2 batch dims
    Tensor q2 = random_input({2, 2, 3, 3}, 14), k2 = random_input({2, 2, 4, 3}, 15), v2 = random_input({2, 2, 4, 2}, 16);
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], causal, 0.6); },
        {q2, k2, v2});
    Tensor q3 = random_input({2, 5, 3}, 17), k3 = random_input({2, 2, 3}, 18), v3 = random_input({2, 2, 3}, 19);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], causal); },
                    {q3, k3, v3});
  }
  // non-contiguous inputs: k given as [.., D, T] transposed, q a permuted view
  Tensor qb = random_input({3, 2, 4}, 21), kt = random_input({2, 4, 3}, 22), vb = random_input({2, 3, 2}, 23);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0].permute({1, 0, 2}), in[1].transpose(1, 2), in[2], true);
      },
      {qb, kt, vb});
  // only some inputs need a gradient
  Tensor qf = random_input({2, 3, 4}, 24).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(qf, in[0], in[1]); }, {k, v});
  Tensor kf = k.detach(), vf = v.detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], kf, vf); }, {q});
}

TEST_CASE("scaled_dot_product_attention: bad shapes", "[attention]") {
  auto z = [](const Shape& s) { return zeros(s, {.dtype = DType::Float64}); };
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(z({2, 3, 4}), z({2, 3, 5}), z({2, 3, 4})),
                         "k's last dim 5 must equal q's 4");
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(z({2, 3, 4}), z({2, 3, 4}), z({2, 2, 4})),
                         "v has 2 positions but k has 3");
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(z({2, 3, 4}), z({3, 3, 4}), z({3, 3, 4})),
                         "same leading (batch) dims");
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(z({2, 3, 4}), z({3, 4}), z({3, 4})), "same leading (batch) dims");
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(z({4}), z({3, 4}), z({3, 4})), "at least 2 dims");
  CHECK_THROWS_WITH_TEXT(scaled_dot_product_attention(zeros({3, 4}), z({3, 4}), z({3, 4})), "one dtype");
}
