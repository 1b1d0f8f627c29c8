// CUDA vs CPU for scaled dot-product attention, forward and backward: causal and not, Tq = Tk and
// Tq ≠ Tk with T in {1, 3, 127, 300}, D ≠ Dv, explicit and default scale, several batch dims,
// non-contiguous inputs and inputs without grad, float32 and float64.
// Skipped with a visible warning where no CUDA device is present.
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

Tensor input(const Shape& shape, uint64_t seed, DType dt) {
  Tensor x = random_input(shape, seed, -1.5, 1.5);
  if (dt == DType::Float64) return x;
  Tensor f = x.detach().to(DType::Float32);
  f.requires_grad_();
  return f;
}

const char* name(DType dt) { return dt == DType::Float64 ? "float64" : "float32"; }

}  // namespace

TEST_CASE("CUDA scaled_dot_product_attention matches the CPU for T = 1, 3, 127, 300, causal or not", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  struct Case {
    int64_t Tq, Tk;
  };
  const std::vector<Case> cases = {{1, 1}, {3, 3}, {127, 127}, {300, 300}, {3, 7}, {7, 3}, {1, 300}, {300, 127}, {127, 1}};
  uint64_t seed = 1;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases)
      for (bool causal : {false, true}) {
        INFO(name(dt) << " Tq " << c.Tq << " Tk " << c.Tk << " causal " << causal);
        const int64_t D = 8, Dv = 5;
        Tensor q = input({2, c.Tq, D}, ++seed, dt), k = input({2, c.Tk, D}, ++seed, dt);
        Tensor v = input({2, c.Tk, Dv}, ++seed, dt);
        auto fn = [causal](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          return {scaled_dot_product_attention(in[0], in[1], in[2], causal)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {q, k, v}, tolerance_for(dt));
      }
}

TEST_CASE("CUDA attention: batch dims, explicit scale, wide heads, non-contiguous inputs, partial grads", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(name(dt));
    // [B, H, T, D] with a head dim wider than a block of threads
    {
      Tensor q = input({2, 3, 17, 160}, 11, dt), k = input({2, 3, 29, 160}, 12, dt), v = input({2, 3, 29, 131}, 13, dt);
      for (bool causal : {false, true}) {
        INFO("wide heads, causal " << causal);
        auto fn = [causal](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          return {scaled_dot_product_attention(in[0], in[1], in[2], causal, 0.05)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {q, k, v}, tolerance_for(dt));
      }
    }
    // non-contiguous q, k, v: transposed [B, D, T] and a head sliced out of [B, T, 2, D]
    {
      Tensor qt = input({2, 16, 9}, 21, dt), kt = input({2, 16, 11}, 22, dt), vh = input({2, 11, 2, 6}, 23, dt);
      for (bool causal : {false, true}) {
        INFO("non-contiguous, causal " << causal);
        auto fn = [causal](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          return {scaled_dot_product_attention(in[0].transpose(1, 2), in[1].transpose(1, 2), in[2].select(2, 1),
                                               causal)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {qt, kt, vh}, tolerance_for(dt));
      }
    }
    // only some inputs need gradients (the kernels skip dq, dk or dv)
    for (int which = 0; which < 3; ++which) {
      INFO("only input " << which << " requires grad");
      std::vector<Tensor> in = {input({3, 13, 4}, 31, dt), input({3, 19, 4}, 32, dt), input({3, 19, 7}, 33, dt)};
      for (int i = 0; i < 3; ++i)
        if (i != which) in[size_t(i)] = in[size_t(i)].detach();
      auto fn = [](const std::vector<Tensor>& x) -> std::vector<Tensor> {
        return {scaled_dot_product_attention(x[0], x[1], x[2], true)};
      };
      CHECK_CUDA_MATCHES_CPU(fn, in, tolerance_for(dt));
    }
  }
}
