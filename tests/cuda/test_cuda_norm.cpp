// CUDA vs CPU for normalization and dropout: batch norm (training and eval, running statistics
// compared after the in-place update), layer norm, group norm, forward and backward, float32/float64,
// odd sizes and non-contiguous inputs; dropout's mask bit-identical to the CPU's for one generator.
// Skipped with a visible warning where no CUDA device is present.
#include "core/random.h"
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

// A leaf of dtype dt (requires grad) holding a float64 random input's values.
Tensor input(const Shape& shape, uint64_t seed, DType dt, double lo = -2.0, double hi = 2.0) {
  Tensor x = random_input(shape, seed, lo, hi);
  if (dt == DType::Float64) return x;
  Tensor f = x.detach().to(DType::Float32);
  f.requires_grad_();
  return f;
}

// A tensor of dtype dt without grad (running statistics).
Tensor buffer(const Shape& shape, uint64_t seed, DType dt, double lo, double hi) {
  return random_input(shape, seed, lo, hi).detach().to(dt);
}

const char* name(DType dt) { return dt == DType::Float64 ? "float64" : "float32"; }

}  // namespace

TEST_CASE("CUDA batch_norm matches the CPU: training and eval, running statistics, affine or not", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const std::vector<Shape> shapes = {{2, 3}, {3, 5, 7}, {4, 3, 5, 6}, {1, 127, 2}, {5, 1, 1025}, {2, 3, 1, 1}};
  uint64_t seed = 100;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& shape : shapes)
      for (bool training : {true, false})
        for (bool affine : {true, false}) {
          INFO(name(dt) << " x " << shape_str(shape) << " training " << training << " affine " << affine);
          const int64_t C = shape[1];
          Tensor x = input(shape, ++seed, dt, -2.0, 3.0);
          Tensor w = affine ? input({C}, ++seed, dt) : Tensor(), b = affine ? input({C}, ++seed, dt) : Tensor();
          Tensor rm = buffer({C}, ++seed, dt, -1.0, 1.0), rv = buffer({C}, ++seed, dt, 0.5, 2.0);
          // outputs: y and the running statistics after the in-place update
          auto fn = [&](const std::vector<Tensor>& in) -> std::vector<Tensor> {
            Tensor y = batch_norm(in[0], in[1], in[2], in[3], in[4], training, 0.3, 1e-3);
            return {y, in[3].clone(), in[4].clone()};
          };
          CHECK_CUDA_MATCHES_CPU(fn, {x, w, b, rm, rv}, tolerance_for(dt));
        }
}

TEST_CASE("CUDA batch_norm: non-contiguous input, no running statistics, float32 running stats of float64 x",
          "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(name(dt));
    Tensor xt = input({7, 4, 3}, 7, dt);  // used as x = xt.transpose(0, 1): [4, 7, 3], strided
    Tensor w = input({7}, 8, dt), b = input({7}, 9, dt);
    auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      return {batch_norm(in[0].transpose(0, 1), in[1], in[2], Tensor(), Tensor(), true)};
    };
    CHECK_CUDA_MATCHES_CPU(fn, {xt, w, b}, tolerance_for(dt));
    // a sliced (every other channel) view as x, and running stats of the other dtype
    Tensor xs = input({3, 10, 5}, 10, dt);
    const DType other = dt == DType::Float64 ? DType::Float32 : DType::Float64;
    Tensor rm = buffer({5}, 11, other, -1.0, 1.0), rv = buffer({5}, 12, other, 0.5, 2.0);
    auto fn2 = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      Tensor y = batch_norm(in[0].slice(1, 0, 10, 2), Tensor(), Tensor(), in[1], in[2], true, 0.1, 1e-5);
      return {y, in[1].clone(), in[2].clone()};
    };
    // the running stats of the other dtype are rounded once on the GPU, twice on the CPU (mul, add)
    CHECK_CUDA_MATCHES_CPU(fn2, {xs, rm, rv}, tolerance_for(DType::Float32));
  }
}

TEST_CASE("CUDA layer_norm matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  struct Case {
    Shape x, normalized;
  };
  const std::vector<Case> cases = {{{3, 5}, {5}},          {{2, 3, 127}, {127}}, {{4, 3, 7}, {3, 7}},
                                   {{1, 1025}, {1025}},    {{300, 1}, {1}},      {{1, 1}, {1}},
                                   {{2, 2, 3, 129}, {129}}, {{5}, {5}}};
  uint64_t seed = 300;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases)
      for (int params = 0; params < 3; ++params) {  // 0: none, 1: weight only, 2: weight and bias
        INFO(name(dt) << " x " << shape_str(c.x) << " normalized " << shape_str(c.normalized) << " params " << params);
        Tensor x = input(c.x, ++seed, dt);
        Tensor w = params >= 1 ? input(c.normalized, ++seed, dt) : Tensor();
        Tensor b = params >= 2 ? input(c.normalized, ++seed, dt) : Tensor();
        const Shape ns = c.normalized;
        auto fn = [ns](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          return {layer_norm(in[0], ns, in[1], in[2], 1e-5)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {x, w, b}, tolerance_for(dt));
      }
}

TEST_CASE("CUDA layer_norm with a non-contiguous input and an input without grad", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(name(dt));
    Tensor xt = input({33, 6}, 21, dt);  // x = xt.t(): [6, 33]
    Tensor w = input({33}, 22, dt), b = input({33}, 23, dt);
    auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      return {layer_norm(in[0].t(), {33}, in[1], in[2])};
    };
    CHECK_CUDA_MATCHES_CPU(fn, {xt, w, b}, tolerance_for(dt));
    // only the parameters need gradients (dx is skipped)
    Tensor x = input({9, 17}, 24, dt).detach();
    Tensor w2 = input({17}, 25, dt), b2 = input({17}, 26, dt);
    auto fn2 = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      return {layer_norm(in[0], {17}, in[1], in[2])};
    };
    CHECK_CUDA_MATCHES_CPU(fn2, {x, w2, b2}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA group_norm matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  struct Case {
    Shape x;
    int64_t groups;
  };
  const std::vector<Case> cases = {{{2, 6, 5}, 3},  {{3, 4, 7, 3}, 2}, {{1, 3, 127}, 1}, {{2, 6}, 6},
                                   {{4, 8, 1025}, 4}, {{1, 1, 1}, 1},  {{3, 9, 2, 2}, 9}};
  uint64_t seed = 500;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases)
      for (bool affine : {true, false}) {
        INFO(name(dt) << " x " << shape_str(c.x) << " groups " << c.groups << " affine " << affine);
        const int64_t C = c.x[1];
        Tensor x = input(c.x, ++seed, dt);
        Tensor w = affine ? input({C}, ++seed, dt) : Tensor(), b = affine ? input({C}, ++seed, dt) : Tensor();
        const int64_t G = c.groups;
        auto fn = [G](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          return {group_norm(in[0], G, in[1], in[2], 1e-5)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {x, w, b}, tolerance_for(dt));
      }
  // a non-contiguous input: [N, C, S] seen through a permute of [S, N, C]
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(name(dt) << " permuted input");
    Tensor xp = input({5, 3, 6}, 600, dt);
    Tensor w = input({6}, 601, dt), b = input({6}, 602, dt);
    auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      return {group_norm(in[0].permute({1, 2, 0}), 2, in[1], in[2])};
    };
    CHECK_CUDA_MATCHES_CPU(fn, {xp, w, b}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA dropout: the mask is bit-identical to the CPU's for the same generator", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t n : {1, 3, 127, 1025, 100003})
      for (double p : {0.1, 0.5, 0.9, 1.0}) {
        INFO(name(dt) << " n " << n << " p " << p);
        Generator gc(77), gg(77);
        (void)rand({5}, {}, gc);  // both generators at a non-zero offset
        (void)rand({5}, {}, gg);
        Tensor ones_c = ones({n}, {.dtype = dt}), ones_g = ones({n}, {.dtype = dt, .device = Device::cuda()});
        Tensor mc = dropout(ones_c, p, true, gc), mg = dropout(ones_g, p, true, gg);
        CHECK_CLOSE(mg.cpu(), mc, 0, 0);
        CHECK(gc.offset() == gg.offset());
        // and y = x·mask with its gradient, exactly
        Tensor x = input({n}, uint64_t(n), dt);
        auto fn = [p](const std::vector<Tensor>& in) -> std::vector<Tensor> {
          Generator g(2024);
          return {dropout(in[0], p, true, g)};
        };
        CHECK_CUDA_MATCHES_CPU(fn, {x}, kiln::test::Tolerance{0, 0});
      }
  // a non-contiguous input of a 2-D shape: the mask follows the output's row-major order on both devices
  Tensor xt = input({6, 11}, 5, DType::Float32);
  auto fn = [](const std::vector<Tensor>& in) -> std::vector<Tensor> {
    Generator g(3);
    return {dropout(in[0].t(), 0.3, true, g)};
  };
  CHECK_CUDA_MATCHES_CPU(fn, {xt}, kiln::test::Tolerance{0, 0});
}
