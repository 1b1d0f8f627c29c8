// CUDA vs CPU for the fused LSTM and GRU cells, forward and backward: odd sizes, float32/float64,
// non-contiguous inputs, gradients arriving for h only, c only or both, inputs without grad.
// Skipped with a visible warning where no CUDA device is present.
#include "core/ops/rnn.h"
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

Tensor input(const Shape& shape, uint64_t seed, DType dt) {
  Tensor x = random_input(shape, seed, -3.0, 3.0);
  if (dt == DType::Float64) return x;
  Tensor f = x.detach().to(DType::Float32);
  f.requires_grad_();
  return f;
}

const char* name(DType dt) { return dt == DType::Float64 ? "float64" : "float32"; }

struct Size {
  int64_t N, H;
};
const std::vector<Size> kSizes = {{1, 1}, {3, 5}, {2, 127}, {1025, 3}, {7, 300}};

}  // namespace

TEST_CASE("CUDA lstm_cell matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  uint64_t seed = 1;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Size& s : kSizes)
      for (int outputs = 0; outputs < 3; ++outputs) {  // 0: h and c, 1: h only, 2: c only
        INFO(name(dt) << " N " << s.N << " H " << s.H << " outputs " << outputs);
        Tensor gates = input({s.N, 4 * s.H}, ++seed, dt), c_prev = input({s.N, s.H}, ++seed, dt);
        auto fn = [outputs](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          auto [h, c] = lstm_cell(in[0], in[1]);
          if (outputs == 1) return {h};
          if (outputs == 2) return {c};
          return {h, c};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {gates, c_prev}, tolerance_for(dt));
      }
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(name(dt) << " non-contiguous gates, c_prev without grad");
    Tensor gates_t = input({20, 6}, 50, dt);  // gates = gates_t.t(): [6, 20], H = 5
    Tensor c_prev = input({6, 5}, 51, dt).detach();
    auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      auto [h, c] = lstm_cell(in[0].t(), in[1]);
      return {h, c};
    };
    CHECK_CUDA_MATCHES_CPU(fn, {gates_t, c_prev}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA gru_cell matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  uint64_t seed = 100;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Size& s : kSizes) {
      INFO(name(dt) << " N " << s.N << " H " << s.H);
      Tensor gi = input({s.N, 3 * s.H}, ++seed, dt), gh = input({s.N, 3 * s.H}, ++seed, dt);
      Tensor h_prev = input({s.N, s.H}, ++seed, dt);
      auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> { return {gru_cell(in[0], in[1], in[2])}; };
      CHECK_CUDA_MATCHES_CPU(fn, {gi, gh, h_prev}, tolerance_for(dt));
    }
  for (DType dt : {DType::Float32, DType::Float64})
    for (int which = 0; which < 3; ++which) {
      INFO(name(dt) << " non-contiguous h_prev; only input " << which << " requires grad");
      std::vector<Tensor> in = {input({4, 21}, 200, dt), input({4, 21}, 201, dt), input({7, 4}, 202, dt)};
      for (int i = 0; i < 3; ++i)
        if (i != which) in[size_t(i)] = in[size_t(i)].detach();
      auto fn = [](const std::vector<Tensor>& x) -> std::vector<Tensor> { return {gru_cell(x[0], x[1], x[2].t())}; };
      CHECK_CUDA_MATCHES_CPU(fn, in, tolerance_for(dt));
    }
}

TEST_CASE("CUDA lstm_layer matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  uint64_t seed = 200;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Size& s : {Size{1, 1}, Size{3, 5}, Size{2, 127}})
      for (bool states : {false, true}) {
        INFO(name(dt) << " N " << s.N << " H " << s.H << " states " << states);
        const int64_t T = 4;
        std::vector<Tensor> in{input({T, s.N, 4 * s.H}, ++seed, dt), input({4 * s.H, s.H}, ++seed, dt),
                               input({4 * s.H}, ++seed, dt)};
        if (states) in.insert(in.end(), {input({s.N, s.H}, ++seed, dt), input({s.N, s.H}, ++seed, dt)});
        auto fn = [states](const std::vector<Tensor>& x) -> std::vector<Tensor> {
          // small weights keep the gates away from saturation: the comparison sees real gradients
          RnnOutput r = lstm_layer(x[0], states ? x[3] : Tensor(), states ? x[4] : Tensor(), x[1] * 0.2, x[2]);
          return {r.output, r.h_n, r.c_n};
        };
        CHECK_CUDA_MATCHES_CPU(fn, in, tolerance_for(dt));
      }
}
