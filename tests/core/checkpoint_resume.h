// A small training run for the bit-exact resume tests (tests/core/test_checkpoint.cpp on the CPU,
// tests/cuda/test_cuda_checkpoint.cpp on a GPU): Linear → BatchNorm1d → ReLU → Dropout → Linear, AdamW
// with a cosine warm-up schedule, gradient clipping and a weight EMA, on synthetic data shuffled every
// epoch by its own generator. check_resume_is_bit_exact() trains N steps straight and N/2 + save + load
// (into fresh objects) + N/2, and compares losses and every state byte for byte.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/serialization/checkpoint.h"
#include "kiln_test.h"
#include "layers/layers.h"
#include "optim/clip.h"
#include "optim/ema.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace kiln::test::resume {

constexpr int64_t kSamples = 40, kBatch = 8, kFeatures = 5, kHidden = 16, kClasses = 3;
constexpr int64_t kSteps = 14;  // 5 batches per epoch: the run crosses two epoch boundaries

struct Net : Module {
  std::shared_ptr<Linear> fc1 = register_module("fc1", std::make_shared<Linear>(kFeatures, kHidden));
  std::shared_ptr<BatchNorm1d> bn = register_module("bn", std::make_shared<BatchNorm1d>(kHidden));
  std::shared_ptr<Dropout> drop = register_module("drop", std::make_shared<Dropout>(0.25));  // default generator
  std::shared_ptr<Linear> fc2 = register_module("fc2", std::make_shared<Linear>(kHidden, kClasses));
  Net() : Module("Net") {}
  Tensor forward(const Tensor& x) { return fc2->forward(drop->forward(relu(bn->forward(fc1->forward(x))))); }
};

// A fixed data set read in a new random order each epoch; the order is drawn from `shuffle`.
struct Loader {
  Tensor x, y;
  Device device;
  Generator shuffle;
  GeneratorState epoch_start;  // shuffle's state before this epoch's order was drawn
  DataPosition position;       // the next batch: (epoch, batch index); {0, 0} until the first batch
  Tensor order;

  Loader(Device d, uint64_t shuffle_seed) : device(d), shuffle(shuffle_seed) {
    Generator data(2024);  // the same data in every run
    x = randn({kSamples, kFeatures}, {}, data).to(device);
    y = randint(0, kClasses, {kSamples}, {.dtype = DType::Int64}, data).to(device);
  }
  void draw_order() {
    epoch_start = {shuffle.seed(), shuffle.offset()};
    order = randperm(kSamples, shuffle).to(device);
  }
  std::pair<Tensor, Tensor> next() {
    if (!order.defined()) {
      draw_order();
    } else if (position.index * kBatch >= kSamples) {
      ++position.epoch;
      position.index = 0;
      draw_order();
    }
    Tensor idx = order.narrow(0, position.index * kBatch, kBatch);
    ++position.index;
    return {index_select(x, 0, idx), index_select(y, 0, idx)};
  }
  // What a checkpoint keeps: the position and the generator state from which this epoch's order is redrawn.
  GeneratorState saved_shuffle_state() const {
    return order.defined() ? epoch_start : GeneratorState{shuffle.seed(), shuffle.offset()};
  }
  void restore(GeneratorState state, DataPosition pos) {
    shuffle.set_state(state.seed, state.offset);
    order = Tensor();
    position = pos;
    if (!(pos == DataPosition{})) draw_order();  // the epoch under way: the same order again
  }
};

struct Run {
  std::shared_ptr<Net> net;
  std::unique_ptr<AdamW> optimizer;
  std::unique_ptr<EMA> ema;
  CosineWarmupLR schedule{1e-2, 3, kSteps, 1e-4};
  Loader loader;
  int64_t step = 0;
  std::vector<Tensor> losses;  // kept on the device: no sync per step

  // A fresh run: the model initialised from `init_seed` (the default generator), data order from `shuffle_seed`.
  Run(Device device, uint64_t init_seed, uint64_t shuffle_seed) : loader(device, shuffle_seed) {
    manual_seed(init_seed);
    net = std::make_shared<Net>();
    net->to(device);
    optimizer = std::make_unique<AdamW>(net->parameters(), 1e-2);
    ema = std::make_unique<EMA>(net->parameters(), 0.9);
  }

  void train(int64_t steps) {
    for (int64_t k = 0; k < steps; ++k) {
      schedule.apply(*optimizer, step);
      auto [xb, yb] = loader.next();
      Tensor loss = cross_entropy(net->forward(xb), yb);
      optimizer->zero_grad();
      loss.backward();
      clip_grad_norm_(net->parameters(), 0.5);
      optimizer->step();
      ema->update(net->parameters());
      ++step;
      losses.push_back(loss.detach());
    }
  }

  Checkpoint checkpoint() const {
    Checkpoint ck;
    ck.step = step;
    ck.data = loader.position;
    ck.config = {{"model", "Linear-BatchNorm1d-ReLU-Dropout-Linear"}, {"optimizer", "AdamW"}, {"lr", "0.01"}};
    ck.add_state("model", net->state_dict());
    ck.add_state("optimizer", optimizer->state_tensors());
    ck.add_state("ema", ema->state_tensors());
    ck.add_generator("default", default_generator());
    ck.add_generator("shuffle", loader.saved_shuffle_state());
    return ck;
  }

  void restore(const Checkpoint& ck) {
    net->load_state_dict(ck.state("model"));  // strict
    optimizer->load_state_tensors(ck.state("optimizer"));
    ema->load_state_tensors(ck.state("ema"));
    ck.restore_generator("default", default_generator());
    loader.restore(ck.generator("shuffle"), ck.data);
    step = ck.step;
  }
};

// The raw bytes of a tensor (any device), for exact comparisons.
inline std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor c = contiguous(t.detach().to(Device::cpu()));
  std::vector<unsigned char> out(size_t(c.numel()) * dtype_size(c.dtype()));
  if (!out.empty()) std::memcpy(out.data(), c.data(), out.size());
  return out;
}

// Every name, dtype, shape and byte of `a` equals `b`'s.
inline void check_identical(const NamedTensors& a, const NamedTensors& b, const std::string& what) {
  INFO(what);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.dtype() == b[i].second.dtype());
    CHECK(a[i].second.shape() == b[i].second.shape());
    CHECK(bytes_of(a[i].second) == bytes_of(b[i].second));
  }
}

inline std::vector<unsigned char> loss_bytes(const std::vector<Tensor>& losses, size_t begin, size_t end) {
  std::vector<unsigned char> out;
  for (size_t i = begin; i < end; ++i) {
    auto b = bytes_of(losses[i]);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// N steps straight vs `split` steps, save, load into a fresh run (other seeds, so everything must come
// from the file), N − split steps: identical losses, weights, buffers, optimizer and EMA state, generators.
inline void check_resume_is_bit_exact(Device device, int64_t split, const std::string& dir) {
  INFO("split after " << split << " of " << kSteps << " steps on " << device.str());
  Run straight(device, 7, 11);
  straight.train(kSteps);
  const GeneratorState straight_default{default_generator().seed(), default_generator().offset()};

  const std::string path = dir + "/resume_" + std::to_string(split) + ".ckpt";
  std::vector<Tensor> first_losses;
  {
    Run first(device, 7, 11);
    first.train(split);
    save_checkpoint(path, first.checkpoint());
    first_losses = first.losses;
    // Training goes on after the save, as it would; the file must not change with it.
    first.train(2);
  }
  Run resumed(device, 12345, 999);  // fresh objects; different seeds prove the state comes from the file
  default_generator().manual_seed(4242);
  Checkpoint ck = load_checkpoint(path);
  CHECK(ck.step == split);
  CHECK(ck.config.at("optimizer") == "AdamW");
  resumed.restore(ck);
  CHECK(resumed.net->fc1->weight.device() == device);  // loaded back onto the model's device
  resumed.train(kSteps - split);

  std::vector<Tensor> losses = first_losses;
  losses.insert(losses.end(), resumed.losses.begin(), resumed.losses.end());
  REQUIRE(losses.size() == straight.losses.size());
  CHECK(loss_bytes(losses, 0, losses.size()) == loss_bytes(straight.losses, 0, straight.losses.size()));
  check_identical(resumed.net->state_dict(), straight.net->state_dict(), "model state");
  check_identical(resumed.optimizer->state_tensors(), straight.optimizer->state_tensors(), "optimizer state");
  check_identical(resumed.ema->state_tensors(), straight.ema->state_tensors(), "EMA state");
  CHECK(resumed.loader.position == straight.loader.position);
  CHECK(resumed.loader.shuffle.offset() == straight.loader.shuffle.offset());
  CHECK(default_generator().seed() == straight_default.seed);  // dropout drew the same masks
  CHECK(default_generator().offset() == straight_default.offset);
  CHECK(resumed.step == straight.step);
  // The run is not trivial: the weights moved and the losses differ from step to step.
  CHECK(bytes_of(straight.losses.front()) != bytes_of(straight.losses.back()));
}

}  // namespace kiln::test::resume
