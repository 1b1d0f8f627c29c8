// The live progress line of a training run:
//   step 1200/5000  epoch 3  loss 0.4132  d_loss 1.203  5,120 img/s  ETA 2m41s  GPU 431 MiB
// On a terminal it is redrawn in place (at most 5 times a second); when the output is a file or a
// pipe (CI, nohup) a full line is printed every `log_seconds` instead, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"

namespace kiln::report {

using Metrics = std::vector<std::pair<std::string, double>>;

class ProgressLine {
 public:
  // total_steps: the run's last step; unit: what throughput counts ("img", "tok").
  ProgressLine(int64_t first_step, int64_t total_steps, std::string unit, Device device, double log_seconds = 10.0,
               std::FILE* out = stdout);
  // After step `step` (1-based), having processed `items` items since the last update.
  void update(int64_t step, int64_t epoch, const Metrics& metrics, int64_t items);
  // Ends the line (on a terminal) so that other output starts on a fresh line.
  void finish();
  double items_per_second() const;
  double elapsed_seconds() const;

 private:
  std::string text(int64_t step, int64_t epoch, const Metrics& metrics) const;
  using Clock = std::chrono::steady_clock;
  int64_t first_step_, total_steps_;
  std::string unit_;
  Device device_;
  double log_seconds_;
  std::FILE* out_;
  bool tty_;
  Clock::time_point start_, last_print_;
  int64_t items_ = 0, steps_done_ = 0;
  bool line_open_ = false;
};

// "45s", "3m05s", "2h07m"
std::string format_duration(double seconds);

}  // namespace kiln::report
