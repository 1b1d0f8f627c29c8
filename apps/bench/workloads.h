// The reference workloads of `kiln bench models` (shared/anchors/WORKLOADS.md): one full training step
// each, built from kiln's models, losses and optimizers with exactly the definitions of
// shared/anchors/torch_anchors.py, at the reference size on a GPU and at a scaled-down size on the CPU
// (the same sizes as benchmarks/torch/bench_models.py). A step never synchronizes with the host.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"

namespace kiln::apps::bench {

struct WorkloadEntry {
  std::string name;
  std::string description;  // one line: model, loss, optimizer
  std::string unavailable;  // why it cannot run in this kiln ("" when it can)
};
// dcgan28, convvae28, charlstm, gpt, gpt-bf16, in that order.
const std::vector<WorkloadEntry>& workload_catalog();
// The entry named `name`; throws a UsageError naming the valid ones when there is none.
const WorkloadEntry& find_workload(const std::string& name);

// The size a workload runs at on `device`: batch, and for charlstm the sequence length (steps), for gpt
// the context and the number of layers (0 where it does not apply).
struct WorkloadSize {
  int64_t batch = 0;
  int64_t steps = 0;
  int64_t context = 0;
  int64_t layers = 0;
};
WorkloadSize workload_size(const std::string& name, Device device);
// "batch 16", "batch 8 x 32 steps", "batch 8 x 64, 2 layers": the words the PyTorch script prints too.
std::string size_text(const std::string& name, const WorkloadSize& size);

// A built workload: `step` runs one training step (forward, backward, optimizer update; for dcgan28 one
// D step and one G step) on the models and data it holds.
struct Workload {
  std::string name;
  WorkloadSize size;
  int64_t parameters = 0;
  std::function<void()> step;
};
// Builds `name` on `device` from the default generator (seed it first for repeatable runs).
Workload make_workload(const std::string& name, Device device);

}  // namespace kiln::apps::bench
