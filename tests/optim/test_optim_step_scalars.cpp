// The optimizer's step scalars read from memory (the path of a step captured into a CUDA graph, whose
// kernel arguments are frozen at capture) against the plain path, on the CPU: SGD, Adam, AdamW, with
// a learning rate that changes every step and parameters skipped on some steps (own step counts).
// Bit-identical: the same doubles, cast to the dtype where the kernel runs.
#include <memory>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "kiln_test.h"
#include "optim/lr_schedule.h"
#include "kernels/cpu/optim_step.h"
#include "optim/optimizer.h"

using namespace kiln;
using kiln::test::random_input;

namespace {

std::vector<Tensor> make_params(DType dt) {
  std::vector<Tensor> params;
  const std::vector<Shape> shapes = {{3, 4}, {7}, {}, {2, 2, 5}};
  for (size_t k = 0; k < shapes.size(); ++k)
    params.push_back(random_input(shapes[k], 100 + k).detach().to(dt).requires_grad_(true));
  return params;
}

template <class Make>
void check_same_updates(Make make, DType dt) {
  std::vector<Tensor> a = make_params(dt), b = make_params(dt);
  std::unique_ptr<Optimizer> plain = make(a), in_memory = make(b);
  in_memory->set_scalars_in_memory(true);
  CosineWarmupLR schedule(0.05, 3, 12, 0.001);
  for (int64_t step = 0; step < 12; ++step) {
    schedule.apply(*plain, step);
    schedule.apply(*in_memory, step);
    for (size_t k = 0; k < a.size(); ++k) {
      const bool skipped = (k == 1 && step % 3 == 1);  // parameter 1 has no gradient on some steps
      Tensor g = random_input(a[k].shape(), 1000 * step + k).detach().to(dt);
      a[k].set_grad(skipped ? Tensor() : g);
      b[k].set_grad(skipped ? Tensor() : g.clone());
    }
    plain->step();
    in_memory->step();
  }
  for (size_t k = 0; k < a.size(); ++k) {
    INFO("parameter " << k);
    if (dt == DType::Float64)
      CHECK(a[k].to_vector<double>() == b[k].to_vector<double>());
    else
      CHECK(a[k].to_vector<float>() == b[k].to_vector<float>());
    CHECK(plain->param_step(k) == in_memory->param_step(k));
  }
  CHECK(plain->step_count() == in_memory->step_count());
}

}  // namespace

TEST_CASE("optimizer step scalars from memory equal the plain path bit for bit", "[optim][graph]") {
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO((dt == DType::Float32 ? "float32" : "float64"));
    check_same_updates([](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
      return std::make_unique<SGD>(p, 0.1, SGDOptions{.momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
    }, dt);
    check_same_updates([](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
      return std::make_unique<SGD>(p, 0.1, SGDOptions{.momentum = 0.9, .weight_decay = 0.0, .nesterov = true});
    }, dt);
    check_same_updates([](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
      return std::make_unique<Adam>(p, 1e-3, AdamOptions{.weight_decay = 0.02, .amsgrad = true});
    }, dt);
    check_same_updates([](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
      return std::make_unique<AdamW>(p, 1e-3);
    }, dt);
  }
}

// The kernels take the scalars from memory when given them, not from their arguments: values for another
// learning rate in memory give that learning rate's update.
TEST_CASE("the fused step kernels read the step scalars from memory when given", "[optim][graph]") {
  std::vector<double> p1 = {1.0, -2.0, 3.0}, p2 = p1, g = {0.5, 0.25, -1.0};
  std::vector<double> m1(3, 0.1), v1(3, 0.2), m2 = m1, v2 = v1;
  AdamTensor t1{p1.data(), g.data(), m1.data(), v1.data(), nullptr, 3, 0, 0};
  AdamTensor t2{p2.data(), g.data(), m2.data(), v2.data(), nullptr, 3, 0, 0};
  const AdamHyperparams at_lr_2{2.0, 0.9, 0.999, 1e-8, 0.1, false, true, nullptr};
  set_adam_bias_corrections(t1, at_lr_2, 4);
  cpu::adam_step(DType::Float64, {t1}, at_lr_2);
  AdamHyperparams at_lr_1{1.0, 0.9, 0.999, 1e-8, 0.1, false, true, nullptr};
  set_adam_bias_corrections(t2, at_lr_1, 4);  // the arguments say lr 1 ...
  AdamTensor for_memory{};
  set_adam_bias_corrections(for_memory, at_lr_2, 4);
  const std::vector<double> memory = {adam_lr_term(at_lr_2), for_memory.step_size, for_memory.bias_correction2_sqrt};
  at_lr_1.step_scalars = memory.data();  // ... memory says lr 2
  cpu::adam_step(DType::Float64, {t2}, at_lr_1);
  CHECK(p1 == p2);

  std::vector<double> q1 = {1.0, 2.0}, q2 = q1, h = {0.5, -0.5};
  cpu::sgd_step(DType::Float64, {{q1.data(), h.data(), nullptr, 2, false}}, {0.3, 0, 0, 0, false, nullptr});
  const std::vector<double> neg_lr = {-0.3};
  cpu::sgd_step(DType::Float64, {{q2.data(), h.data(), nullptr, 2, false}}, {7.0, 0, 0, 0, false, neg_lr.data()});
  CHECK(q1 == q2);
}
