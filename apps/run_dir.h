// A run directory: everything one training run leaves behind, in one folder that `kiln sample`,
// `kiln resume` and `kiln eval` take as their argument:
//   config.json        the settings (flags and defaults) the run was started with
//   metrics.csv        step, metric name, value — every logged number, appended as the run goes
//   curves.svg         the loss curves, redrawn at each log point
//   samples/           image grids (PNG), text, MIDI and WAV written every --sample-every steps
//   checkpoint.safetensors, model.safetensors   the resumable state and the final weights
//   report.html        one self-contained page with all of the above
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/run_lock.h"
#include "report/svg_plot.h"

namespace kiln::apps {

using Config = std::map<std::string, std::string>;

class RunDir {
 public:
  // Creates `out`, or runs/<model>-<YYYYmmdd-HHMMSS> when out is empty, and holds its lock
  // (apps/run_lock.h). A folder that holds anything, or that another kiln process is writing, is never
  // used: a suffix -2, -3, ... is added.
  static RunDir create(const std::string& out, const std::string& model);
  // An existing run (for sample, resume, eval); throws naming the folder when it is not a kiln run.
  static RunDir open(const std::string& path);
  // Before a resumed run writes into the folder: takes its lock (an error when another kiln process
  // holds it), removes what a killed writer left behind and puts back a deleted samples/.
  void lock_for_writing();

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // RUN/samples/step-000123 (add the extension): where the samples of a step go.
  std::string sample_stem(int64_t step) const;

  void write_config(const Config& config) const;
  Config read_config() const;

  // Records metric values at a step (metrics.csv) and keeps them for curves().
  void log(int64_t step, const std::vector<std::pair<std::string, double>>& metrics);
  // The logged series, e.g. for the SVG plot (re-read from metrics.csv when resuming).
  const std::vector<report::Series>& series() const { return series_; }
  void load_metrics();
  // Drops the rows logged after `last_step` (when a run resumes from an earlier checkpoint).
  void truncate_metrics(int64_t last_step);
  // Rewrites curves.svg and returns its text.
  std::string write_curves(const std::string& title) const;

 private:
  explicit RunDir(std::string path) : path_(std::move(path)) {}
  report::Series& series_named(const std::string& name);  // created empty when new
  std::string path_;
  std::vector<report::Series> series_;
  std::shared_ptr<RunLock> lock_;  // held while this process writes the run
};

// A usage error when `out` (--out) cannot be a run folder: the root of the file system.
void check_run_folder_path(const std::string& out);

// Minimal JSON object of strings (the config file): {"key": "value", ...}.
std::string config_to_json(const Config& config);
Config config_from_json(const std::string& text, const std::string& source);

}  // namespace kiln::apps
