// The NaN guard of every training command (kiln train --on-nan, --spike-factor): each step's losses
// and the joint norm of its gradients are recorded as device scalars, without a host-device sync, and
// read back in one transfer at the guard's check points (every step on the CPU; on a GPU at log,
// sample and checkpoint steps). check() names the first step whose loss or gradient norm is NaN or
// infinite, whose weights are, or (with a spike factor) whose loss jumped; TrainingRun decides what
// to do about it.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::apps {

// What a run does when a step diverges.
enum class OnNan {
  Skip,      // drop the update(s) since the last check, keep going with the next batch
  Rollback,  // back to the last good checkpoint with the learning rate halved
  Stop,      // stop, keeping the last good state in the run folder
};
// "skip", "rollback", "stop"; anything else is a usage error naming --on-nan.
OnNan parse_on_nan(const std::string& text);
const char* on_nan_name(OnNan mode);

// The spike rule: once a loss has `kSpikeWarmup` good steps, a value above spike_factor × its running
// mean (an exponential average with weight kSpikeWeight on the newest good step) counts as divergence.
inline constexpr int64_t kSpikeWarmup = 50;
inline constexpr double kSpikeWeight = 0.02;

// A step found bad: which, and what was wrong ("loss is nan", "gradient norm is inf", ...).
struct Divergence {
  int64_t step = 0;
  std::string what;
};

class DivergenceGuard {
 public:
  explicit DivergenceGuard(double spike_factor = 0.0) : spike_factor_(spike_factor) {}
  // A loss of the current step (a 0-d tensor; kept on its device).
  void record_loss(const std::string& name, const Tensor& value);
  // Closes the current step's record with the joint 2-norm of the gradients of `params` (those that
  // have one) and, when `check_weights`, whether `params` are all finite. Device work only.
  void end_step(int64_t step, const std::vector<Tensor>& params, bool check_weights);
  // Reads the records since the last check back (one sync) and returns the first bad step, or nothing;
  // either way the records are consumed. The spike statistics learn from the good steps before it.
  std::optional<Divergence> check();
  // Whether steps are recorded that no check has read yet.
  bool pending() const { return !records_.empty(); }

 private:
  struct StepRecord {
    int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> losses;
    Tensor grad_norm;       // undefined: no gradients
    Tensor weights_finite;  // x − x summed: 0 when finite, else nan; undefined: not checked
  };
  double spike_factor_;
  std::vector<std::pair<std::string, Tensor>> current_;
  std::vector<StepRecord> records_;
  std::map<std::string, std::pair<double, int64_t>> running_;  // loss name → (running mean, good steps)
};

}  // namespace kiln::apps
