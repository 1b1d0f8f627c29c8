// CUDA vs CPU for whole LSTM and GRU stacks: the cuDNN path (op cudnn_rnn) against the CPU cell loop, forward
// and backward, float32 and float64, with and without initial states and biases, batch_first, 1 and 3 layers,
// odd sizes; gradients arriving for the output only; dropout between layers in training (per-layer cuDNN
// calls with kiln's dropout between them: the same masks as the CPU); inference mode; the cell loop on CUDA;
// and the float64 gradient check of cudnn_rnn itself. Skipped with a visible warning without a CUDA device.
#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops/rnn.h"
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

Tensor input(const Shape& shape, uint64_t seed, DType dt, double bound = 1.0, bool requires_grad = true) {
  Tensor x = random_input(shape, seed, -bound, bound).detach().to(dt);
  if (requires_grad) x.requires_grad_();
  return x;
}

const char* name(DType dt) { return dt == DType::Float64 ? "float64" : "float32"; }
const char* name(RnnMode m) { return m == RnnMode::LSTM ? "LSTM" : "GRU"; }

struct Case {
  int64_t in, H, L, T, N;
};
// Odd sizes, one of each size 1, three layers, and one bigger than a warp in every direction.
const std::vector<Case> kCases = {{5, 7, 1, 6, 3}, {3, 4, 3, 5, 2}, {1, 1, 1, 1, 1}, {33, 65, 3, 17, 9}};

// The conformance inputs: [x, h0, c0, weights...] (h0/c0 undefined without initial state; c0 for LSTM only),
// parameters ~ U(−1/√H, 1/√H) as the layers draw them.
std::vector<Tensor> make_inputs(RnnMode mode, const Case& c, DType dt, bool batch_first, bool state, bool bias,
                                uint64_t seed) {
  const int64_t G = mode == RnnMode::LSTM ? 4 : 3;
  const double bound = 1 / std::sqrt(double(c.H));
  std::vector<Tensor> in;
  in.push_back(input(batch_first ? Shape{c.N, c.T, c.in} : Shape{c.T, c.N, c.in}, seed++, dt));
  in.push_back(state ? input({c.L, c.N, c.H}, seed++, dt) : Tensor());
  in.push_back(state && mode == RnnMode::LSTM ? input({c.L, c.N, c.H}, seed++, dt) : Tensor());
  for (int64_t l = 0; l < c.L; ++l) {
    in.push_back(input({G * c.H, l == 0 ? c.in : c.H}, seed++, dt, bound));
    in.push_back(input({G * c.H, c.H}, seed++, dt, bound));
    in.push_back(bias ? input({G * c.H}, seed++, dt, bound) : Tensor());
    in.push_back(bias ? input({G * c.H}, seed++, dt, bound) : Tensor());
  }
  return in;
}

// Runs kiln::rnn on conformance inputs; outputs (output[, h_n, c_n]) in the caller's layout.
test::TensorFn rnn_fn(RnnMode mode, bool batch_first, bool all_outputs, double dropout_p = 0.0,
                      RnnBackend backend = RnnBackend::Auto) {
  return [=](const std::vector<Tensor>& in) -> std::vector<Tensor> {
    Generator generator(77);  // a fresh stream per call: the CPU and CUDA runs draw the same dropout masks
    RnnForwardOptions options{.dropout = dropout_p, .training = dropout_p > 0, .generator = &generator,
                              .backend = backend};
    Tensor x = batch_first ? in[0].transpose(0, 1) : in[0];
    RnnOutput r = rnn(mode, x, in[1], in[2], std::vector<Tensor>(in.begin() + 3, in.end()), options);
    Tensor out = batch_first ? r.output.transpose(0, 1) : r.output;
    if (!all_outputs) return {out};
    if (mode == RnnMode::LSTM) return {out, r.h_n, r.c_n};
    return {out, r.h_n};
  };
}

}  // namespace

TEST_CASE("CUDA LSTM and GRU through cuDNN match the CPU cell loop, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  if (!cudnn_rnn_available()) WARN("kiln built without cuDNN: the CUDA side runs the cell loop");
  uint64_t seed = 1;
  for (RnnMode mode : {RnnMode::LSTM, RnnMode::GRU})
    for (DType dt : {DType::Float32, DType::Float64})
      for (const Case& c : kCases)
        for (int variant = 0; variant < 4; ++variant) {  // bit 0: initial states, bit 1: batch_first
          const bool state = variant & 1, batch_first = variant & 2;
          INFO(name(mode) << " " << name(dt) << " in " << c.in << " H " << c.H << " layers " << c.L << " T " << c.T
                          << " N " << c.N << " initial state " << state << " batch_first " << batch_first);
          const int64_t calls = cudnn_rnn_calls_run();
          CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, batch_first, true),
                                 make_inputs(mode, c, dt, batch_first, state, true, seed), tolerance_for(dt));
          seed += 20;
          if (cudnn_rnn_available()) CHECK(cudnn_rnn_calls_run() >= calls + 2);  // forward and backward ran
        }
}

TEST_CASE("CUDA LSTM and GRU through cuDNN: no biases, the output's gradient only, inputs without grad", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const Case c{4, 5, 2, 3, 2};
  for (RnnMode mode : {RnnMode::LSTM, RnnMode::GRU})
    for (DType dt : {DType::Float32, DType::Float64}) {
      INFO(name(mode) << " " << name(dt));
      {
        INFO("no biases (cuDNN's bias stretches stay zero)");
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, false, true), make_inputs(mode, c, dt, false, true, false, 300),
                               tolerance_for(dt));
      }
      {
        INFO("only the output sequence is used (dh_n, dc_n are zero: null for cuDNN)");
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, false, false), make_inputs(mode, c, dt, false, true, true, 320),
                               tolerance_for(dt));
      }
      {
        INFO("only the weights of layer 1 and h0 require grad");
        std::vector<Tensor> in = make_inputs(mode, c, dt, false, true, true, 340);
        for (size_t k = 0; k < in.size(); ++k)
          if (in[k].defined() && k != 1 && k < 7) in[k] = in[k].detach();
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, false, true), in, tolerance_for(dt));
      }
      {
        INFO("inference: nothing requires grad (cuDNN's inference mode)");
        std::vector<Tensor> in = make_inputs(mode, c, dt, true, true, true, 360);
        for (Tensor& t : in)
          if (t.defined()) t = t.detach();
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, true, true), in, tolerance_for(dt));
      }
    }
}

TEST_CASE("CUDA LSTM and GRU: dropout between layers draws the CPU's masks, and the cell loop on CUDA", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const Case c{3, 6, 3, 4, 5};
  for (RnnMode mode : {RnnMode::LSTM, RnnMode::GRU})
    for (DType dt : {DType::Float32, DType::Float64}) {
      INFO(name(mode) << " " << name(dt));
      {
        INFO("training with dropout 0.4: one cuDNN call per layer, kiln's dropout between");
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, true, true, 0.4), make_inputs(mode, c, dt, true, true, true, 400),
                               tolerance_for(dt));
      }
      {
        INFO("the cell loop of kiln's CUDA kernels");
        CHECK_CUDA_MATCHES_CPU(rnn_fn(mode, false, true, 0.0, RnnBackend::CellLoop),
                               make_inputs(mode, c, dt, false, true, true, 420), tolerance_for(dt));
      }
    }
}

TEST_CASE("cudnn_rnn: float64 gradient check on the GPU", "[cuda][gradcheck]") {
  REQUIRE_CUDA_OR_SKIP();
  if (!cudnn_rnn_available()) {
    WARN("kiln built without cuDNN: skipped");
    return;
  }
  const Case c{2, 3, 2, 3, 2};
  for (RnnMode mode : {RnnMode::LSTM, RnnMode::GRU})
    for (int variant = 0; variant < 2; ++variant) {  // 0: initial states and biases, 1: neither
      INFO(name(mode) << (variant == 0 ? " with initial states and biases" : " from zeros, no biases"));
      std::vector<Tensor> inputs = make_inputs(mode, c, DType::Float64, false, variant == 0, variant == 0, 500);
      CHECK_GRADCHECK(
          [mode](const std::vector<Tensor>& in) {
            std::vector<Tensor> dev;
            for (const Tensor& t : in) dev.push_back(t.defined() ? t.to(Device::cuda()) : Tensor());
            RnnOutput r = cudnn_rnn(mode, dev[0], dev[1], dev[2], std::vector<Tensor>(dev.begin() + 3, dev.end()));
            std::vector<Tensor> out = {r.output.to(Device::cpu()), r.h_n.to(Device::cpu())};
            if (mode == RnnMode::LSTM) out.push_back(r.c_n.to(Device::cpu()));
            return out;
          },
          inputs);
    }
}
