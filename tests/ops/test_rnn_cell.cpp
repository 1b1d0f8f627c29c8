// Fused LSTM and GRU cells: values against the PyTorch formulas written out here, gradient checks of
// the cells composed over two time steps (h of step 1 feeding step 2's gates), partial output
// gradients (h only, c only), and errors.
#include <cmath>
#include <vector>

#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

double sig(double x) { return 1 / (1 + std::exp(-x)); }

// A stand-in for h·W_hhᵀ without matmul: h [N, H] repeated for each of the `gates` gate blocks and
// scaled per unit by w [gates, H] → [N, gates·H]. Enough to make step 2 depend on step 1's h.
Tensor recurrent_term(const Tensor& h, const Tensor& w, int64_t gates) {
  const int64_t N = h.size(0), H = h.size(1);
  return reshape(mul(expand(unsqueeze(h, 1), {N, gates, H}), w), {N, gates * H});
}

}  // namespace

TEST_CASE("lstm_cell: PyTorch gate order (i, f, g, o) and state update", "[rnn]") {
  const int64_t N = 2, H = 3;
  Tensor gates = random_input({N, 4 * H}, 1).detach(), c_prev = random_input({N, H}, 2).detach();
  std::vector<double> a = gates.to_vector<double>(), cp = c_prev.to_vector<double>(), h_expected, c_expected;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < H; ++j) {
      const double* row = &a[size_t(n * 4 * H)];
      double i = sig(row[j]), f = sig(row[H + j]), g = std::tanh(row[2 * H + j]), o = sig(row[3 * H + j]);
      double c = f * cp[size_t(n * H + j)] + i * g;
      c_expected.push_back(c);
      h_expected.push_back(o * std::tanh(c));
    }
  auto [h, c] = lstm_cell(gates, c_prev);
  CHECK(h.shape() == Shape{N, H});
  CHECK_CLOSE(h, h_expected, 1e-12, 1e-12);
  CHECK_CLOSE(c, c_expected, 1e-12, 1e-12);
  auto [h32, c32] = lstm_cell(gates.to(DType::Float32), c_prev.to(DType::Float32));
  CHECK_CLOSE(h32, h_expected, 1e-6, 1e-5);
  CHECK_CLOSE(c32, c_expected, 1e-6, 1e-5);
  // hand value: all gate pre-activations 0 → i = f = o = ½, g = 0 → c = c_prev/2, h = tanh(c)/2
  auto [h0, c0] = lstm_cell(zeros({1, 4}, {.dtype = DType::Float64}), f64({2.0}, {1, 1}));
  CHECK_CLOSE(c0, {1.0}, 1e-12, 1e-12);
  CHECK_CLOSE(h0, {0.5 * std::tanh(1.0)}, 1e-12, 1e-12);
}

TEST_CASE("gru_cell: PyTorch gate order (r, z, n) and update", "[rnn]") {
  const int64_t N = 2, H = 3;
  Tensor gi = random_input({N, 3 * H}, 3).detach(), gh = random_input({N, 3 * H}, 4).detach();
  Tensor h_prev = random_input({N, H}, 5).detach();
  std::vector<double> xi = gi.to_vector<double>(), xh = gh.to_vector<double>(), hp = h_prev.to_vector<double>(), expected;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < H; ++j) {
      const double *ri = &xi[size_t(n * 3 * H)], *rh = &xh[size_t(n * 3 * H)];
      double r = sig(ri[j] + rh[j]), z = sig(ri[H + j] + rh[H + j]), nn = std::tanh(ri[2 * H + j] + r * rh[2 * H + j]);
      expected.push_back((1 - z) * nn + z * hp[size_t(n * H + j)]);
    }
  CHECK_CLOSE(gru_cell(gi, gh, h_prev), expected, 1e-12, 1e-12);
  CHECK_CLOSE(gru_cell(gi.to(DType::Float32), gh.to(DType::Float32), h_prev.to(DType::Float32)), expected, 1e-6, 1e-5);
  // hand value: zero pre-activations → r = z = ½, n = 0 → h = h_prev/2
  CHECK_CLOSE(gru_cell(zeros({1, 3}, {.dtype = DType::Float64}), zeros({1, 3}, {.dtype = DType::Float64}),
                       f64({3.0}, {1, 1})),
              {1.5}, 1e-12, 1e-12);
}

TEST_CASE("lstm_cell: gradient checks over two time steps, gradients for h, c or both", "[rnn][gradcheck]") {
  const int64_t N = 2, H = 3;
  Tensor a1 = random_input({N, 4 * H}, 11), a2 = random_input({N, 4 * H}, 12), c0 = random_input({N, H}, 13);
  Tensor w = random_input({4, H}, 14);
  auto two_steps = [&](const std::vector<Tensor>& in) {
    auto [h1, c1] = lstm_cell(in[0], in[2]);
    return lstm_cell(in[1] + recurrent_term(h1, in[3], 4), c1);
  };
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
    auto [h2, c2] = two_steps(in);
    return std::vector<Tensor>{h2, c2};
  }, {a1, a2, c0, w});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return two_steps(in).first; }, {a1, a2, c0, w});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return two_steps(in).second; }, {a1, a2, c0, w});
  // one step on a non-contiguous gates view
  Tensor at = random_input({4 * H, N}, 15);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return lstm_cell(in[0].t(), in[1]).second; }, {at, c0});
}

TEST_CASE("gru_cell: gradient checks over two time steps", "[rnn][gradcheck]") {
  const int64_t N = 2, H = 3;
  Tensor gi1 = random_input({N, 3 * H}, 21), gi2 = random_input({N, 3 * H}, 22), gh1 = random_input({N, 3 * H}, 23);
  Tensor h0 = random_input({N, H}, 24), w = random_input({3, H}, 25);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) {
    Tensor h1 = gru_cell(in[0], in[2], in[3]);
    return gru_cell(in[1], recurrent_term(h1, in[4], 3), h1);
  }, {gi1, gi2, gh1, h0, w});
  // non-contiguous gh, and only h_prev needing a gradient
  Tensor ght = random_input({3 * H, N}, 26);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gru_cell(in[0], in[1].t(), in[2]); }, {gi1, ght, h0});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return gru_cell(gi1.detach(), gh1.detach(), in[0]); }, {h0});
}

TEST_CASE("lstm_cell and gru_cell: bad shapes", "[rnn]") {
  auto z = [](const Shape& s) { return zeros(s, {.dtype = DType::Float64}); };
  CHECK_THROWS_WITH_TEXT(lstm_cell(z({2, 6}), z({2, 1})), "expected [N, 4·H]");
  CHECK_THROWS_WITH_TEXT(lstm_cell(z({2, 8}), z({2, 3})), "c_prev has shape [2, 3], expected [2, 2]");
  CHECK_THROWS_WITH_TEXT(lstm_cell(z({8}), z({2})), "expected [N, 4·H]");
  CHECK_THROWS_WITH_TEXT(lstm_cell(z({2, 8}), Tensor()), "c_prev is undefined");
  CHECK_THROWS_WITH_TEXT(lstm_cell(z({2, 8}), zeros({2, 2})), "c_prev has dtype float32");
  CHECK_THROWS_WITH_TEXT(gru_cell(z({2, 7}), z({2, 7}), z({2, 2})), "expected [N, 3·H]");
  CHECK_THROWS_WITH_TEXT(gru_cell(z({2, 6}), z({2, 3}), z({2, 2})), "gh has shape [2, 3], expected [2, 6]");
  CHECK_THROWS_WITH_TEXT(gru_cell(z({2, 6}), z({2, 6}), z({3, 2})), "h_prev has shape [3, 2], expected [2, 2]");
}
