// The op lstm_layer (core/ops/lstm_layer.cpp), the LSTM's fast path: the same outputs and gradients as the
// reference cell loop of kiln ops, with and without initial states, biases and output gradients; gradchecks.
#include <string>

#include "core/autograd/node.h"
#include "core/ops/rnn.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::random_input;

namespace {

struct LstmCase {
  int64_t T, N, input, H, L;
  bool bias, states;
};

// Outputs and gradients of a stacked LSTM under a loss that uses output, h_n and c_n, on one backend.
std::vector<Tensor> run_lstm(const LstmCase& c, RnnBackend backend, DType dtype) {
  std::vector<Tensor> inputs{random_input({c.T, c.N, c.input}, 1, -1, 1).to(dtype).detach().requires_grad_()};
  uint64_t seed = 2;
  for (int64_t l = 0; l < c.L; ++l)
    for (Shape s : {Shape{4 * c.H, l == 0 ? c.input : c.H}, Shape{4 * c.H, c.H}, Shape{4 * c.H}, Shape{4 * c.H}})
      inputs.push_back(s.size() == 1 && !c.bias ? Tensor()
                                                : random_input(s, seed++, -0.5, 0.5).to(dtype).detach().requires_grad_());
  Tensor h0, c0;
  if (c.states) {
    h0 = random_input({c.L, c.N, c.H}, 40, -1, 1).to(dtype).detach().requires_grad_();
    c0 = random_input({c.L, c.N, c.H}, 41, -1, 1).to(dtype).detach().requires_grad_();
  }
  std::vector<Tensor> weights(inputs.begin() + 1, inputs.end());
  RnnForwardOptions options;
  options.backend = backend;
  RnnOutput r = lstm(inputs[0], h0, c0, weights, options);
  Tensor loss = sum(r.output * random_input(r.output.shape(), 50).to(dtype).detach()) +
                sum(r.h_n * r.h_n) + sum(r.c_n * 0.5);
  loss.backward();
  std::vector<Tensor> out{r.output, r.h_n, r.c_n};
  for (const Tensor& t : inputs)
    if (t.defined()) out.push_back(t.grad());
  if (c.states) out.insert(out.end(), {h0.grad(), c0.grad()});
  return out;
}

}  // namespace

TEST_CASE("lstm_layer: outputs and gradients equal the reference cell loop", "[rnn][lstm_layer]") {
  for (const LstmCase& c : {LstmCase{6, 3, 5, 4, 2, true, true}, LstmCase{1, 1, 2, 3, 1, false, false},
                            LstmCase{9, 2, 3, 8, 1, true, false}, LstmCase{4, 5, 4, 2, 3, false, true}}) {
    INFO("T " << c.T << " N " << c.N << " input " << c.input << " H " << c.H << " L " << c.L << " bias " << c.bias
              << " states " << c.states);
    for (DType dtype : {DType::Float64, DType::Float32}) {
      const double tolerance = dtype == DType::Float64 ? 1e-12 : 2e-5;
      std::vector<Tensor> fast = run_lstm(c, RnnBackend::FusedLayers, dtype);
      std::vector<Tensor> reference = run_lstm(c, RnnBackend::CellLoop, dtype);
      REQUIRE(fast.size() == reference.size());
      for (size_t i = 0; i < fast.size(); ++i) {
        INFO("result " << i << " (output, h_n, c_n, then the gradients)");
        REQUIRE(fast[i].defined());
        CHECK_CLOSE(fast[i], reference[i], tolerance, tolerance);
      }
    }
  }
}

TEST_CASE("lstm_layer: gradient check, and Auto takes it on the CPU", "[rnn][lstm_layer][gradcheck]") {
  const int64_t T = 4, N = 2, H = 3;
  std::vector<Tensor> in{random_input({T, N, 4 * H}, 1, -1, 1), random_input({N, H}, 2, -1, 1),
                         random_input({N, H}, 3, -1, 1), random_input({4 * H, H}, 4, -0.7, 0.7),
                         random_input({4 * H}, 5, -0.5, 0.5)};
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& x) {
        RnnOutput r = lstm_layer(x[0], x[1], x[2], x[3], x[4]);
        return cat({flatten(r.output), flatten(r.h_n) * 2.0, flatten(r.c_n)}, 0);
      },
      in);
  // Only some outputs used, no initial state, no bias.
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& x) { return lstm_layer(x[0], Tensor(), Tensor(), x[1], Tensor()).c_n; },
      {in[0], in[3]});
  RnnOutput r = lstm(random_input({T, N, 2}, 6), Tensor(), Tensor(),
                     {random_input({4 * H, 2}, 7), random_input({4 * H, H}, 8), Tensor(), Tensor()});
  REQUIRE(r.output.grad_fn());
  CHECK(std::string(r.output.grad_fn()->name()) == "lstm_layer");
}

TEST_CASE("lstm_layer: argument errors name the argument", "[rnn][lstm_layer]") {
  Tensor xi = randn({3, 2, 8}), w = randn({8, 2});
  CHECK_THROWS_WITH_TEXT(lstm_layer(xi, Tensor(), Tensor(), randn({8, 3}), Tensor()), "w_hh has shape");
  CHECK_THROWS_WITH_TEXT(lstm_layer(randn({3, 2, 6}), Tensor(), Tensor(), w, Tensor()), "xi has shape");
  CHECK_THROWS_WITH_TEXT(lstm_layer(xi, randn({3, 2}), Tensor(), w, Tensor()), "h0 must have shape");
  CHECK_THROWS_WITH_TEXT(lstm_layer(xi, Tensor(), Tensor(), w, randn({4})), "b_hh must have shape");
}
