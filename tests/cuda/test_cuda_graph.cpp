// Whole-step CUDA graphs on a GPU (core/cuda_graph.h): a small training step (linear layers, dropout,
// noise drawn inside the step, Adam under a learning-rate schedule applied between steps) captured and
// replayed against the same step run eagerly, bit for bit in deterministic mode; dropout differing
// between replays as it does between eager steps; resuming from a captured run; a host read inside the
// step refusing capture with a clear reason; the private memory pool. Skipped without a CUDA device.
#include <memory>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/cuda_context.h"
#include "core/cuda_graph.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "cuda/conformance.h"
#include "layers/linear.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

using namespace kiln;

namespace {

// A training setup whose step can be run eagerly or through a CapturedStep.
struct Setup {
  Device device = Device::cuda(0);
  Generator init{123}, noise{77};
  Linear first{16, 32, true, init}, second{32, 4, true, init};
  std::unique_ptr<Adam> adam;
  CosineWarmupLR schedule{0.01, 3, 20, 0.001};
  Tensor x, target, loss, mask_probe;  // inputs copied in before each step; outputs left by it
  bool read_on_host = false;           // a host sync inside the step (capture must refuse it)

  Setup() {
    first.to(device);
    second.to(device);
    std::vector<Tensor> params = first.parameters();
    for (const Tensor& p : second.parameters()) params.push_back(p);
    adam = std::make_unique<Adam>(params, 0.01, AdamOptions{.weight_decay = 0.01});
    x = zeros({8, 16}, {.device = device});
    target = zeros({8, 4}, {.device = device});
  }
  void step() {
    Tensor h = relu(first.forward(add(x, mul(randn({8, 16}, {.device = device}, noise), 0.01))));
    Tensor dropped = dropout(h, 0.3, true, noise);
    mask_probe = dropped;
    loss = mse_loss(second.forward(dropped), target);
    if (read_on_host) (void)loss.item();
    adam->zero_grad();
    loss.backward();
    adam->step();
  }
  // Step `k`'s batch, the same for every setup.
  void load_batch(int k) {
    NoGradGuard no_grad;
    x.copy_(kiln::test::random_input({8, 16}, 1000 + k).to(device));
    target.copy_(kiln::test::random_input({8, 4}, 2000 + k).to(device));
  }
  std::vector<float> weights() const {
    std::vector<float> all;
    for (const Tensor& p : adam->params()) {
      auto v = p.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
};

// Runs steps [first, last) of `s`, through `runner` when given (else eagerly); returns each step's loss.
std::vector<float> train(Setup& s, int first, int last, CapturedStep* runner, std::vector<std::vector<float>>* masks = nullptr) {
  std::vector<float> losses;
  for (int k = first; k < last; ++k) {
    s.load_batch(k);
    s.schedule.apply(*s.adam, k);  // between steps: a replay reads the new rate from the device
    if (runner != nullptr)
      runner->run("static");
    else
      s.step();
    losses.push_back(float(s.loss.item()));
    if (masks != nullptr) masks->push_back(s.mask_probe.to_vector<float>());
  }
  return losses;
}

struct DeterministicScope {
  bool before = deterministic();
  DeterministicScope() { set_deterministic(true); }
  ~DeterministicScope() { set_deterministic(before); }
};

}  // namespace

TEST_CASE("CUDA graph: replayed steps equal uncaptured steps bit for bit", "[cuda][graph]") {
  REQUIRE_CUDA_OR_SKIP();
  DeterministicScope deterministic_mode;
  Setup eager, graphed;
  CapturedStep runner(graphed.device, [&] { graphed.step(); }, {.warmup_steps = 2, .max_captures = 4});
  std::vector<std::vector<float>> eager_masks, graph_masks;
  const std::vector<float> a = train(eager, 0, 10, nullptr, &eager_masks);
  const std::vector<float> b = train(graphed, 0, 10, &runner, &graph_masks);
  INFO(runner.unsupported_reason());
  CHECK(runner.unsupported_reason().empty());
  CHECK(runner.captures() == 1);
  CHECK(runner.replays() == 8);  // steps 3..10: the capture's own step is the first replay
  CHECK(a == b);
  CHECK(eager.weights() == graphed.weights());
  CHECK(eager.adam->step_count() == graphed.adam->step_count());
  CHECK(eager.adam->param_step(0) == graphed.adam->param_step(0));
  CHECK(eager.noise.offset() == graphed.noise.offset());  // what a checkpoint saves
  // Dropout and noise differ from replay to replay exactly as from eager step to eager step.
  CHECK(eager_masks == graph_masks);
  CHECK(graph_masks[5] != graph_masks[6]);
}

TEST_CASE("CUDA graph: a run resumed from a captured run's state continues identically", "[cuda][graph]") {
  REQUIRE_CUDA_OR_SKIP();
  DeterministicScope deterministic_mode;
  Setup straight;
  CapturedStep straight_runner(straight.device, [&] { straight.step(); }, {.warmup_steps = 1, .max_captures = 4});
  train(straight, 0, 6, &straight_runner);
  // The "checkpoint": weights, optimizer state and generator, copied as Resumable does.
  std::vector<Tensor> saved_weights;
  for (const Tensor& p : straight.adam->params()) saved_weights.push_back(p.detach().cpu());
  NamedTensors saved_state;
  for (const auto& [name, t] : straight.adam->state_tensors()) saved_state.emplace_back(name, t.detach().cpu());
  const uint64_t seed = straight.noise.seed(), offset = straight.noise.offset();
  const std::vector<float> rest = train(straight, 6, 12, &straight_runner);

  Setup resumed;
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < saved_weights.size(); ++i) {
      Tensor param = resumed.adam->params()[i];  // a handle to the same storage
      param.copy_(saved_weights[i]);
    }
  }
  resumed.adam->load_state_tensors(saved_state);
  resumed.noise.set_state(seed, offset);
  CapturedStep resumed_runner(resumed.device, [&] { resumed.step(); }, {.warmup_steps = 1, .max_captures = 4});
  CHECK(train(resumed, 6, 12, &resumed_runner) == rest);
  CHECK(resumed.weights() == straight.weights());
  CHECK(resumed_runner.replays() > 0);
}

TEST_CASE("CUDA graph: a host read inside the step refuses capture, naming it, and the step still runs", "[cuda][graph]") {
  REQUIRE_CUDA_OR_SKIP();
  DeterministicScope deterministic_mode;
  Setup eager, graphed;
  graphed.read_on_host = true;
  CapturedStep runner(graphed.device, [&] { graphed.step(); }, {.warmup_steps = 1, .max_captures = 4});
  const std::vector<float> b = train(graphed, 0, 5, &runner);
  INFO(runner.unsupported_reason());
  CHECK_THAT(runner.unsupported_reason(), Catch::Contains("item()"));
  CHECK(runner.replays() == 0);
  CHECK(train(eager, 0, 5, nullptr) == b);  // every step ran, eagerly, with the same numbers
  CHECK(eager.weights() == graphed.weights());
}

TEST_CASE("CUDA graph: the graph's memory is never handed to other tensors while it lives", "[cuda][graph]") {
  REQUIRE_CUDA_OR_SKIP();
  Setup s;
  CapturedStep runner(s.device, [&] { s.step(); }, {.warmup_steps = 1, .max_captures = 4});
  train(s, 0, 3, &runner);
  REQUIRE(runner.replays() > 0);
  const void* loss_memory = s.loss.data();
  std::vector<Tensor> others;
  for (int i = 0; i < 64; ++i) others.push_back(empty({1}, {.device = s.device}));
  for (const Tensor& t : others) CHECK(t.data() != loss_memory);
  const std::vector<float> before = s.weights();
  train(s, 3, 5, &runner);  // replays still work with those tensors alive
  CHECK(s.weights() != before);
  runner.reset();  // the pool goes back to the shared cache
  train(s, 5, 8, &runner);
  CHECK(runner.captures() == 2);
}

TEST_CASE("CUDA optimizer: step scalars in device memory equal the plain path bit for bit", "[cuda][graph]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::vector<Tensor> a, b;
    for (int k = 0; k < 3; ++k) {
      Tensor p = kiln::test::random_input({50 + k}, 10 + k).detach().to(dt).to(Device::cuda(0));
      a.push_back(p.clone().requires_grad_(true));
      b.push_back(p.clone().requires_grad_(true));
    }
    AdamW plain(a, 1e-3), in_memory(b, 1e-3);
    in_memory.set_scalars_in_memory(true);
    for (int step = 0; step < 5; ++step) {
      plain.set_lr(1e-3 * (step + 1));
      in_memory.set_lr(1e-3 * (step + 1));
      for (int k = 0; k < 3; ++k) {
        Tensor g = kiln::test::random_input({50 + k}, 100 * step + k).detach().to(dt).to(Device::cuda(0));
        a[size_t(k)].set_grad(g);
        b[size_t(k)].set_grad(g.clone());
      }
      plain.step();
      in_memory.step();
    }
    for (int k = 0; k < 3; ++k) CHECK(a[size_t(k)].to(DType::Float64).to_vector<double>() == b[size_t(k)].to(DType::Float64).to_vector<double>());
  }
}
