#include "apps/training_run.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/cli_args.h"
#include "apps/data_messages.h"
#include "apps/interrupt.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "layers/module.h"

namespace kiln::apps {

namespace {

// The run folder of a resumed run, locked against other writers.
RunDir open_for_writing(const std::string& path) {
  RunDir run = RunDir::open(path);
  run.lock_for_writing();
  return run;
}

// Pending metric sums as checkpoint notes, "metric.<name>" = "<sum> <count>", the sum in C's exact
// hexadecimal floating-point form (%a), so that a resumed run adds to the very same number.
constexpr const char* kMetricNote = "metric.";

// `path` as one shell word: as it is when it holds only safe characters, else in single quotes.
std::string shell_word(const std::string& path) {
  const bool safe = !path.empty() && path[0] != '-' && std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-+:@%", c) != nullptr;
  });
  if (safe) return path;
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

int64_t auto_batch(const BatchStep& probe, Device device, int64_t upper, uint64_t state_bytes) {
  const int64_t batch = choose_auto_batch(probe, device, upper, state_bytes);
  std::printf("kiln: --batch auto: %lld is the largest batch that fits in memory (searched from at most %lld)\n",
              (long long)batch, (long long)upper);
  std::fflush(stdout);
  return batch;
}

TrainingRun::TrainingRun(const TrainOptions& options, const std::string& title, const Config& model_config,
                         const std::string& unit, Resumable& state)
    : options_(options),
      dir_(options.resume ? open_for_writing(options.out) : RunDir::create(options.out, options.model)),
      first_step_(options.resume ? state.restore(dir_, &restored_notes_) + 1 : 1),
      progress_(first_step_, options.steps, unit, options.device) {
  if (options.resume && first_step_ > options.steps)  // checked before anything in the run folder changes
    throw cli::UsageError("run '" + options.out + "' has already trained " + std::to_string(first_step_ - 1) +
                          " steps: resume it with a larger --steps to train longer (it asked for " +
                          std::to_string(options.steps) + ")");
  for (const auto& [key, value] : restored_notes_) {
    if (key.rfind(kMetricNote, 0) != 0) continue;
    char* end = nullptr;
    const double sum = std::strtod(value.c_str(), &end);
    const long long count = std::strtoll(end, nullptr, 10);
    if (count > 0)
      sums_[key.substr(std::string(kMetricNote).size())] = {
          scalar_tensor(sum, {.dtype = DType::Float64, .device = options.device}), int64_t(count)};
  }
  install_interrupt_handlers();  // from here on, Ctrl-C stops at a step boundary with a checkpoint
  config_ = options.to_config();
  config_.insert(model_config.begin(), model_config.end());
  config_["flags"] = flags_text(resolved_flags(model_config));
  if (options.resume) dir_.truncate_metrics(first_step_ - 1);  // rows logged after the checkpoint are redone
  config_["out"] = dir_.path();
  options_.out = dir_.path();
  dir_.write_config(config_);
  report_.title = title;
  report_.config.assign(config_.begin(), config_.end());
  if (options.resume)
    std::printf("kiln: resuming %s at step %lld of %lld on %s; run folder %s\n", title.c_str(), (long long)first_step_,
                (long long)options.steps, device_string(options.device).c_str(), dir_.path().c_str());
  else
    std::printf("kiln: %s on %s, %s of batch %lld; run folder %s\n", title.c_str(),
                device_string(options.device).c_str(), counted(options.steps, "step", "steps").c_str(),
                (long long)options.batch, dir_.path().c_str());
  std::fflush(stdout);
}

// The flags typed, plus every setting the command resolved that is a flag of this model (batch, steps,
// network sizes, ...): `kiln resume` replays them, so a run resumes with the settings it had even where
// defaults depend on the device. --epochs is replaced by the --steps it came to, and --device auto by the
// device it chose: a run resumes where it ran (bit for bit), unless `kiln resume RUN --device D` says
// otherwise.
Config TrainingRun::resolved_flags(const Config& model_config) const {
  Config flags = options_.flags;
  flags.erase("epochs");
  flags["device"] = device_string(options_.device);
  auto set = [&](std::string name, const std::string& value) {
    std::replace(name.begin(), name.end(), '_', '-');
    if (options_.is_flag && options_.is_flag(name)) flags[name] = value;
  };
  set("batch", std::to_string(options_.batch));
  set("steps", std::to_string(options_.steps));
  set("seed", std::to_string(options_.seed));
  set("sample-every", std::to_string(options_.sample_every));
  set("checkpoint-every", std::to_string(options_.checkpoint_every));
  set("log-every", std::to_string(options_.log_every));
  if (options_.limit > 0) set("limit", std::to_string(options_.limit));  // 0, no limit, is no flag to replay
  if (!options_.data.empty()) set("data", options_.data);  // absolute already (parse_train_options)
  for (const auto& [name, value] : model_config) set(name, value);
  return flags;
}

void TrainingRun::checkpoint(int64_t step, const Resumable& state) {
  flush_metrics(step);
  state.save(dir_, step, config_);
}

void TrainingRun::checkpoint_unlogged(int64_t step, const Resumable& state) {
  Config notes;
  for (const auto& [name, entry] : sums_) {
    if (entry.second == 0) continue;
    char sum[40];
    std::snprintf(sum, sizeof sum, "%a", entry.first.item());  // a sync, at a checkpoint only
    notes[kMetricNote + name] = std::string(sum) + " " + std::to_string(entry.second);
  }
  state.save(dir_, step, config_, notes);
}

void TrainingRun::flush_metrics(int64_t step) {
  report::Metrics values;
  for (auto& [name, entry] : sums_) {
    if (entry.second == 0) continue;
    values.emplace_back(name, entry.first.item() / double(entry.second));  // a sync, at a log point only
    entry = {Tensor(), 0};
  }
  if (values.empty()) return;
  last_ = values;
  dir_.log(step, last_);
}

void TrainingRun::accumulate(const std::string& name, const Tensor& value) {
  NoGradGuard no_grad;
  auto& [sum, count] = sums_[name];
  Tensor v = value.detach().to(DType::Float64);
  sum = sum.defined() ? add(sum, v) : v;
  ++count;
}

void TrainingRun::step_done(int64_t step, int64_t epoch, int64_t items) {
  if (due(step, options_.log_every)) flush_metrics(step);
  progress_.update(step, epoch, last_, items);
}

void TrainingRun::log(int64_t step, const report::Metrics& metrics) {
  dir_.log(step, metrics);
  progress_.finish();
  for (const auto& [name, value] : metrics) std::printf("  %s %.6g\n", name.c_str(), value);
  std::fflush(stdout);
}

void TrainingRun::write_report() {
  report_.plots = {dir_.write_curves(report_.title)};
  report_.timing = {{"elapsed", report::format_duration(progress_.elapsed_seconds())},
                    {"throughput", std::to_string(int64_t(progress_.items_per_second())) + " per second"},
                    {"device", device_string(options_.device)}};
  report::write_html_report(dir_.file("report.html"), report_);
}

bool TrainingRun::end_of_step(int64_t step, const Resumable& state) {
  const bool stop = interrupt_requested() && step < options_.steps;
  if (stop)
    checkpoint_unlogged(step, state);
  else if (due(step, options_.checkpoint_every))
    checkpoint(step, state);
  if (stop) interrupted_at_ = step;
  return !stop;
}

void TrainingRun::finish() {
  progress_.finish();
  write_report();
  if (interrupted_at_ > 0)
    throw Interrupted("interrupted at step " + std::to_string(interrupted_at_) + " of " +
                      std::to_string(options_.steps) + "; the checkpoint is saved: continue with: kiln resume " +
                      shell_word(dir_.path()));
  std::printf("kiln: done; report: %s\n", dir_.file("report.html").c_str());
  std::fflush(stdout);
}

}  // namespace kiln::apps
