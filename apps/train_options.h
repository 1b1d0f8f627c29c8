// The flags every `kiln train <model>` shares, parsed and checked in one place, with each model's
// defaults; and the device choice ("auto": the first GPU when there is one, else the CPU).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

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
  int64_t batch = 64;         // 0 after parsing `--batch auto`: the model's command picks the largest that fits
  double lr = 1e-3;
  int64_t sample_every = 500;
  int64_t checkpoint_every = 1000;
  int64_t log_every = 50;
  int64_t limit = 0;          // use the first N training examples only (0: all)
  bool resume = false;        // continue the run in `out` from its checkpoint
  bool deterministic = false; // deterministic CUDA algorithms (bit-identical reruns and resumes on a GPU)
  std::string on_nan = "rollback";  // what a diverging step does: skip, rollback or stop (apps/divergence_guard.h)
  int64_t nan_limit = 3;      // how often skip (in a row) or rollback may act before the run stops
  double spike_factor = 0.0;  // a loss over this × its running mean diverges (0: no spike check)
  bool detect_anomaly = false;  // backward names the op that first made a gradient non-finite
  std::string cuda_graph = "auto";  // --cuda-graph on|off; auto: on for CUDA where the model allows (core/cuda_graph.h)
  Config flags;               // the flags given on the command line
  std::function<bool(const std::string&)> is_flag;  // whether this model's command accepts a flag name

  Config to_config() const;
};

// The switches (flags without a value) of `kiln train`.
inline const std::vector<std::string> kTrainSwitches = {"resume", "deterministic", "detect-anomaly"};
// The flags each model takes beyond the shared ones, by model name: one table for the parsers and for
// the message that names the models a misplaced flag belongs to.
const std::map<std::string, std::vector<std::string>>& model_train_flags();
// The names of the flags of `kiln train MODEL` that take a value (kTrainSwitches are the others).
std::vector<std::string> train_flag_names(const std::string& model);
// The flags of `kiln train MODEL`: the shared ones, the model's own and the switches. A flag of another
// model is a usage error that says so: "--ema does not apply to gpt (it is a flag of dcgan)".
cli::Args train_args(int argc, char** argv, int first, const std::string& model);
// Reads the shared flags over `defaults` (a model's own defaults for batch, lr, steps, ...).
TrainOptions parse_train_options(const cli::Args& args, TrainOptions defaults);
// A usage error when --batch is larger than the `examples` training examples of `data` (no batch to draw).
void check_batch_fits(int64_t batch, int64_t examples, const std::string& data);
// The recorded flags as "name=value" lines (config.json's "flags"), and back.
std::string flags_text(const Config& flags);
Config flags_from_text(const std::string& text);  // a line that is not name=value: kiln::Error
// The shortest text that reads back as exactly `v` (for values recorded in config.json).
std::string exact_number(double v);
// "auto", "cpu", "cuda", "cuda:N".
Device parse_device(const std::string& text);
std::string device_string(Device device);

}  // namespace kiln::apps
