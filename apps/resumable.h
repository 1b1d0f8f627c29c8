// What a training command checkpoints and resumes: its modules, optimizers, weight averages, random
// generators and data loader, listed once; save() writes RUN/checkpoint.safetensors atomically, and
// restore() puts everything back so that the resumed run continues bit for bit (see
// core/serialization/checkpoint.h).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "apps/run_dir.h"
#include "core/serialization/checkpoint.h"
#include "core/random.h"
#include "data/loader.h"
#include "layers/module.h"
#include "optim/ema.h"
#include "optim/optimizer.h"

namespace kiln::apps {

struct Resumable {
  std::vector<std::pair<std::string, Module*>> modules;
  std::vector<std::pair<std::string, Optimizer*>> optimizers;
  std::vector<std::pair<std::string, EMA*>> averages;
  std::vector<std::pair<std::string, Generator*>> generators;  // the default generator is always included
  data::DataLoader* loader = nullptr;
  double learning_rate = 0.0;  // > 0: every optimizer's rate after restoring (a --lr given on resume wins)

  // Writes the state after `step` steps to run/checkpoint.safetensors (the previous one stays valid
  // until the new one is complete), with the run's config and `notes` (values the caller wants back).
  void save(const RunDir& run, int64_t step, const Config& config, const Config& notes = {}) const;
  // The same state as a checkpoint in memory (CPU copies: training may go on), e.g. to roll back to.
  Checkpoint capture(int64_t step, const Config& config, const Config& notes = {}) const;
  // Puts a captured state back: everything (the weights, optimizers, averages, generators and data
  // position), or with `weights_only` the modules, optimizers and averages alone.
  void restore_from(const Checkpoint& checkpoint, bool weights_only = false);
  // Loads run/checkpoint.safetensors into everything listed and returns its step, and the saved notes
  // in `notes`; an error names the file when it is missing, damaged, does not fit, or was written by a
  // run of another model or vocabulary than `run`.
  int64_t restore(const RunDir& run, Config* notes = nullptr);
};

}  // namespace kiln::apps
