// CUDA vs CPU for the fused optimizer step and the fused weight EMA: 200 small tensors of odd sizes plus
// a large one (10⁶ + 3 elements), an empty one and one just over a block boundary, so one step takes
// several launches; float32 and float64; parameters skipped on some steps; non-contiguous gradients.
// Skipped with a visible warning where no CUDA device is present.
#include <memory>
#include <string>

#include "core/autograd/grad_mode.h"
#include "cuda/conformance.h"
#include "optim/ema.h"
#include "optim/optimizer.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

const char* name(DType dt) { return dt == DType::Float64 ? "float64" : "float32"; }

std::vector<Shape> many_shapes() {
  std::vector<Shape> shapes;
  for (int64_t k = 0; k < 200; ++k) {
    const int64_t n = 1 + (k * 37) % 61;
    shapes.push_back(k % 3 == 0 ? Shape{n, 3} : Shape{n});
  }
  shapes.push_back({1000003});
  shapes.push_back({0});
  shapes.push_back({3, 4099});  // 12297 elements: three blocks of 4096 and a 9-element tail
  shapes.push_back({});
  return shapes;
}

Tensor values(const Shape& shape, uint64_t seed, DType dt) { return random_input(shape, seed).detach().to(dt); }

// The same parameters on the CPU and on the GPU.
struct ParamCopies {
  std::vector<Tensor> cpu, gpu;
};
ParamCopies make_params(const std::vector<Shape>& shapes, DType dt, uint64_t seed) {
  ParamCopies p;
  for (const Shape& s : shapes) {
    Tensor c = values(s, ++seed, dt);
    Tensor g = c.to(Device::cuda());
    c.requires_grad_();
    g.requires_grad_();
    p.cpu.push_back(c);
    p.gpu.push_back(g);
  }
  return p;
}

void check_all_close(const std::vector<Tensor>& gpu, const std::vector<Tensor>& cpu, DType dt, const char* what) {
  const auto tol = tolerance_for(dt);
  for (size_t k = 0; k < cpu.size(); ++k) {
    auto r = kiln::test::all_close(gpu[k], cpu[k], tol.atol, tol.rtol);
    if (!r.ok) {  // one failure per list is enough to read
      INFO(what << " " << k << " shape " << shape_str(cpu[k].shape()) << ": " << r.message);
      CHECK(r.ok);
      return;
    }
  }
  CHECK(true);
}

using MakeOpt = std::unique_ptr<Optimizer> (*)(std::vector<Tensor>);
struct Case {
  const char* label;
  MakeOpt make;
};
const std::vector<Case> kCases = {
    {"SGD", [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> { return std::make_unique<SGD>(p, 0.05); }},
    {"SGD momentum dampening wd",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<SGD>(p, 0.05, SGDOptions{.momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01});
     }},
    {"SGD nesterov wd",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<SGD>(p, 0.05, SGDOptions{.momentum = 0.8, .weight_decay = 0.05, .nesterov = true});
     }},
    {"Adam", [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> { return std::make_unique<Adam>(p, 0.01); }},
    {"Adam wd amsgrad",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<Adam>(p, 0.01, AdamOptions{.beta2 = 0.9, .weight_decay = 0.1, .amsgrad = true});
     }},
    {"AdamW", [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> { return std::make_unique<AdamW>(p, 0.01); }},
    {"AdamW amsgrad",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<AdamW>(p, 0.01, AdamOptions{.beta1 = 0.5, .beta2 = 0.8, .weight_decay = 0.3,
                                                           .amsgrad = true});
     }},
};

}  // namespace

TEST_CASE("CUDA fused optimizer step matches the CPU step", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const std::vector<Shape> shapes = many_shapes();
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : kCases) {
      INFO(name(dt) << " " << c.label);
      ParamCopies params = make_params(shapes, dt, 1);
      auto cpu = c.make(params.cpu), gpu = c.make(params.gpu);
      uint64_t seed = 5000;
      for (int s = 0; s < 4; ++s) {
        cpu->set_lr(cpu->lr() * 0.9);
        gpu->set_lr(cpu->lr());
        for (size_t k = 0; k < shapes.size(); ++k) {
          if ((s + int(k)) % 5 == 0) {  // skipped on this step: step counts differ between tensors
            params.cpu[k].set_grad(Tensor());
            params.gpu[k].set_grad(Tensor());
            continue;
          }
          Tensor g = values(shapes[k], ++seed, dt);
          params.cpu[k].set_grad(g);
          if (shapes[k].size() == 2 && s % 2 == 1)  // a non-contiguous gradient on the GPU
            params.gpu[k].set_grad(g.t().contiguous().to(Device::cuda()).t());
          else
            params.gpu[k].set_grad(g.to(Device::cuda()));
        }
        cpu->step();
        gpu->step();
        INFO("step " << s + 1);
        check_all_close(params.gpu, params.cpu, dt, "parameter");
      }
      for (size_t k = 0; k < shapes.size(); ++k) REQUIRE(gpu->param_step(k) == cpu->param_step(k));
      NamedTensors cs = cpu->state_tensors(), gs = gpu->state_tensors();
      REQUIRE(cs.size() == gs.size());
      std::vector<Tensor> cpu_state, gpu_state;
      for (size_t i = 0; i < cs.size(); ++i) {
        REQUIRE(cs[i].first == gs[i].first);
        cpu_state.push_back(cs[i].second);
        gpu_state.push_back(gs[i].second);
      }
      check_all_close(gpu_state, cpu_state, dt, "state tensor");
    }
}

TEST_CASE("CUDA fused EMA matches the CPU EMA", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const std::vector<Shape> shapes = many_shapes();
  for (DType dt : {DType::Float32, DType::Float64})
    for (double decay : {0.0, 0.9, 0.999}) {
      INFO(name(dt) << " decay " << decay);
      ParamCopies params = make_params(shapes, dt, 7);
      EMA cpu(params.cpu, decay), gpu(params.gpu, decay);
      uint64_t seed = 9000;
      for (int s = 0; s < 3; ++s) {
        NoGradGuard no_grad;
        for (size_t k = 0; k < shapes.size(); ++k) {
          Tensor v = values(shapes[k], ++seed, dt);
          params.cpu[k].copy_(v);
          params.gpu[k].copy_(v);
        }
        cpu.update(params.cpu);
        gpu.update(params.gpu);
      }
      CHECK(gpu.shadow()[0].device().is_cuda());
      check_all_close(gpu.shadow(), cpu.shadow(), dt, "average");
    }
}
