// The flags every `kiln train <model>` shares, parsed and checked in one place, with each model's
// defaults; and the device choice ("auto": the first GPU when there is one, else the CPU).
#pragma once
#include <cstdint>
#include <string>

#include "apps/cli_args.h"
#include "apps/run_dir.h"
#include "core/device.h"

namespace kiln::apps {

struct TrainOptions {
  std::string model;
  std::string data;           // data set path ("" = the model's default)
  std::string out;            // run folder ("" = runs/<model>-<time>)
  Device device = Device::cpu();
  uint64_t seed = 0;
  int64_t steps = 0;          // optimizer steps in all (after --epochs is converted)
  int64_t epochs = 0;         // when given instead of --steps
  int64_t batch = 64;
  double lr = 1e-3;
  int64_t sample_every = 500;
  int64_t checkpoint_every = 1000;
  int64_t log_every = 50;
  int64_t limit = 0;          // use the first N training examples only (0: all)

  Config to_config() const;
  static TrainOptions from_config(const Config& config);
};

// The flag names parse_train_options knows (for Args), plus the model's own.
std::vector<std::string> train_flag_names(std::vector<std::string> extra = {});
// Reads the shared flags over `defaults` (a model's own defaults for batch, lr, steps, ...).
TrainOptions parse_train_options(const cli::Args& args, TrainOptions defaults);
// "auto", "cpu", "cuda", "cuda:N".
Device parse_device(const std::string& text);
std::string device_string(Device device);

}  // namespace kiln::apps
