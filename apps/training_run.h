// The bookkeeping every training command shares, so that each model's file holds only its model
// and its step: the run folder, metric averages kept on the device (read back only at log points,
// so steps stay free of host-device syncs), the NaN guard (--on-nan), the progress line, curves and
// the HTML report.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "apps/divergence_guard.h"
#include "apps/resumable.h"
#include "apps/run_dir.h"
#include "apps/train_options.h"
#include "core/memory_estimate.h"
#include "core/tensor.h"
#include "report/html_report.h"
#include "report/progress.h"

namespace kiln::apps {

// `--batch auto` (core/memory_estimate.h): the largest batch up to `upper` that fits, with the choice printed.
int64_t auto_batch(const BatchStep& probe, Device device, int64_t upper, uint64_t state_bytes);
// Every trainer's memory step, before any run folder exists: `--batch auto` (o.batch 0) becomes the largest
// batch up to `upper` that fits; a number is checked against the memory left (check_training_memory).
// `probe` runs one training step of a throwaway copy of the model; `state_bytes` is the optimizer's state.
void settle_batch(TrainOptions& o, const BatchStep& probe, int64_t upper, uint64_t state_bytes);

// --cuda-graph (core/cuda_graph.h): "" when this run's training step may be captured into a CUDA graph,
// else why not. `model_limit` is the model's own reason ("" where its step is capturable). An explicit
// --cuda-graph on that cannot be honoured is a usage error naming why.
std::string cuda_graph_refusal(const TrainOptions& o, const std::string& model_limit);
// The same decision, printed on a GPU ("kiln: CUDA graph off: <why>"): true when the step is to be captured.
bool use_cuda_graph(const TrainOptions& o, const std::string& model_limit);

class TrainingRun {
 public:
  // Creates the run folder, or when options.resume reopens it and restores `state` (and the pending
  // metric averages) from its checkpoint; holds the folder's lock; writes config.json.
  TrainingRun(const TrainOptions& options, const std::string& title, const Config& model_config,
              const std::string& unit, Resumable& state);
  // The step this run starts at: 1, or the one after the checkpoint it resumed from.
  int64_t first_step() const { return first_step_; }

  RunDir& dir() { return dir_; }
  const TrainOptions& options() const { return options_; }
  const Config& config() const { return config_; }
  report::RunReport& report() { return report_; }

  // Adds a 0-d loss to the running average of `name` (stays on the device; no sync); the NaN guard
  // watches it too.
  void accumulate(const std::string& name, const Tensor& value);
  // After each step's update: the NaN guard's check (every step on the CPU; on a GPU at log, sample
  // and checkpoint steps and after Ctrl-C, reading back the steps since the last check at once). When
  // a step diverged (a loss or the gradient norm NaN or infinite, non-finite weights, a loss spike) it
  // acts as --on-nan says and returns false: skip puts the weights of the last check back; rollback
  // puts the last good checkpoint back with the learning rate halved and sets `step` to its step (the
  // loop goes on after it); stop, or skip and rollback past --nan-limit, writes the last good state as
  // the checkpoint and throws kiln::Error. Otherwise true: at every log_every-th step and the last one
  // it reads the averages (one sync), appends them to metrics.csv and redraws curves; it updates the
  // progress line. The trainer's loop goes on to the next step when it returns false.
  bool step_done(int64_t& step, int64_t epoch, int64_t items);
  // The factor the NaN guard's rollbacks have scaled the learning rate by (1, ½, ¼, ...): a trainer
  // whose schedule sets the rate each step multiplies by it.
  double lr_scale() const { return lr_scale_; }
  // Logs values computed outside the step (test accuracy, validation loss, FID, ...).
  void log(int64_t step, const report::Metrics& metrics);
  bool due(int64_t step, int64_t every) const { return step % every == 0 || step == options_.steps; }
  // At every checkpoint_every-th step and the last: logs the pending averages (so that a run resumed
  // from here, or extended with a larger --steps, logs what an uninterrupted one does), then writes the
  // checkpoint.
  void checkpoint(int64_t step, const Resumable& state);
  // The end of every step: the checkpoint when it is due; after Ctrl-C or SIGTERM (apps/interrupt.h) a
  // checkpoint at this step, and false: the trainer leaves its loop, and finish() reports where the run
  // stopped and how to resume it.
  bool end_of_step(int64_t step, const Resumable& state);
  // Rewrites curves.svg and report.html (the latest samples, results and timing included).
  void write_report();
  // Writes the report; says "done", or after an interruption throws Interrupted (kiln exits with 130).
  void finish();

 private:
  TrainOptions options_;
  RunDir dir_;
  Config restored_notes_;  // the checkpoint's notes when resuming (the pending metric sums)
  int64_t first_step_;
  Config config_;
  report::RunReport report_;
  report::ProgressLine progress_;
  std::map<std::string, std::pair<Tensor, int64_t>> sums_;  // name → (Σ value on device, count)
  report::Metrics last_;                                     // the latest logged averages
  int64_t interrupted_at_ = 0;                               // the step an interruption stopped at

  void flush_metrics(int64_t step);
  // The checkpoint of an interrupted step: the pending sums go into it unlogged, and the resumed run
  // adds to them, so that its rows are those of a run that was never stopped.
  void checkpoint_unlogged(int64_t step, const Resumable& state);
  Config resolved_flags(const Config& model_config) const;

  // The NaN guard (apps/divergence_guard.h) and what it keeps to undo steps with.
  struct GoodState {
    Checkpoint state;  // weights, optimizers, averages, generators, data position (CPU copies)
    std::map<std::string, std::pair<Tensor, int64_t>> sums;  // the metric sums then
    double lr_scale = 1.0;
  };
  Resumable* state_;
  OnNan on_nan_;
  DivergenceGuard guard_;
  std::vector<Tensor> parameters_;  // of every module in the state: their gradients and weights are checked
  GoodState last_checkpoint_;       // rollback and stop go back to it: the last checkpoint written (or the start)
  GoodState last_check_;            // skip goes back to it: the state after the last good check (skip only)
  double lr_scale_ = 1.0;
  int64_t rollbacks_ = 0, skipped_ = 0, skips_in_row_ = 0;
  std::vector<std::string> guard_events_;  // what the guard did, for the report and the final message

  GoodState capture_good(int64_t step, const Config& notes);
  Config guard_notes() const;
  static Config sum_notes(const std::map<std::string, std::pair<Tensor, int64_t>>& sums);
  void on_divergence(const Divergence& bad, int64_t& step);
  [[noreturn]] void stop_diverged(const Divergence& bad, const std::string& why);
  void say(const std::string& line);
};

}  // namespace kiln::apps
