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
#include "core/cuda_graph.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/serialization/checkpoint.h"
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

// The NaN guard's counters in checkpoint notes, so that a resumed run goes on with the learning rate
// its rollbacks left and keeps counting.
constexpr const char* kLrScaleNote = "guard.lr_scale";
constexpr const char* kRollbacksNote = "guard.rollbacks";
constexpr const char* kSkippedNote = "guard.skipped";

// Refuses to write a state that holds NaN or infinity (the guard's checks should have stopped it
// before; this is the last line): the run folder keeps only finite weights.
void check_finite_state(const Checkpoint& c, const std::string& path) {
  for (const std::string& group : c.state_groups())
    for (const auto& [name, t] : c.state(group)) {
      if (!is_floating(t.dtype()) || t.numel() == 0) continue;
      KILN_CHECK(sum(sub(t, t)).item() == 0.0, "refusing to write '", path, "': its tensor '", group, "/", name,
                 "' holds nan or inf (the run diverged)");
    }
}

std::string learning_rate_text(double lr) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", lr);
  return text;
}

}  // namespace

int64_t auto_batch(const BatchStep& probe, Device device, int64_t upper, uint64_t state_bytes) {
  const int64_t batch = choose_auto_batch(probe, device, upper, state_bytes);
  std::printf("kiln: --batch auto: %lld is the largest batch that fits in memory (searched from at most %lld)\n",
              (long long)batch, (long long)upper);
  std::fflush(stdout);
  return batch;
}

void settle_batch(TrainOptions& o, const BatchStep& probe, int64_t upper, uint64_t state_bytes) {
  if (o.batch == 0)
    o.batch = auto_batch(probe, o.device, upper, state_bytes);
  else
    check_training_memory(probe, o.device, o.batch, state_bytes);
}

std::string cuda_graph_refusal(const TrainOptions& o, const std::string& model_limit) {
  std::string why;
  if (!o.device.is_cuda())
    why = "the run is on the CPU";
  else if (o.cuda_graph == "off")
    why = "--cuda-graph off";
  else if (const std::string device = CapturedStep::device_reason(o.device); !device.empty())
    why = device;
  else if (o.detect_anomaly)
    why = "--detect-anomaly reads every gradient on the host inside the step";
  else
    why = model_limit;
  if (!why.empty() && o.cuda_graph == "on" && why != "--cuda-graph off")
    throw cli::UsageError("--cuda-graph on cannot be used: " + why);
  return why;
}

bool use_cuda_graph(const TrainOptions& o, const std::string& model_limit) {
  const std::string why = cuda_graph_refusal(o, model_limit);
  if (!why.empty() && o.device.is_cuda()) {
    std::printf("kiln: CUDA graph off: %s\n", why.c_str());
    std::fflush(stdout);
  }
  return why.empty();
}

TrainingRun::TrainingRun(const TrainOptions& options, const std::string& title, const Config& model_config,
                         const std::string& unit, Resumable& state)
    : options_(options),
      dir_(options.resume ? open_for_writing(options.out) : RunDir::create(options.out, options.model)),
      first_step_(options.resume ? state.restore(dir_, &restored_notes_) + 1 : 1),
      progress_(first_step_, options.steps, unit, options.device),
      state_(&state),
      on_nan_(parse_on_nan(options.on_nan)),
      guard_(options.spike_factor) {
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
  if (const auto scale = restored_notes_.find(kLrScaleNote); scale != restored_notes_.end()) {
    lr_scale_ = std::strtod(scale->second.c_str(), nullptr);
    KILN_CHECK(lr_scale_ > 0.0 && lr_scale_ <= 1.0, "the checkpoint of run '", options.out, "' has a bad '",
               kLrScaleNote, "': ", scale->second);
    for (auto& [name, optimizer] : state.optimizers) optimizer->set_lr(optimizer->lr() * lr_scale_);
  }
  if (const auto n = restored_notes_.find(kRollbacksNote); n != restored_notes_.end())
    rollbacks_ = std::strtoll(n->second.c_str(), nullptr, 10);
  if (const auto n = restored_notes_.find(kSkippedNote); n != restored_notes_.end())
    skipped_ = std::strtoll(n->second.c_str(), nullptr, 10);
  for (const auto& [name, module] : state.modules)
    for (const Tensor& p : module->parameters()) parameters_.push_back(p);
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
  // Where rollback and stop go back to until the first checkpoint: the state the run starts from.
  last_checkpoint_ = capture_good(first_step_ - 1, guard_notes());
  if (on_nan_ == OnNan::Skip) last_check_ = last_checkpoint_;
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

void TrainingRun::checkpoint(int64_t step, const Resumable&) {
  flush_metrics(step);
  GoodState good = capture_good(step, guard_notes());
  const std::string path = dir_.file("checkpoint.safetensors");
  check_finite_state(good.state, path);
  save_checkpoint(path, good.state);
  last_checkpoint_ = std::move(good);
}

// The pending metric sums as notes (a sync, at a checkpoint only).
Config TrainingRun::sum_notes(const std::map<std::string, std::pair<Tensor, int64_t>>& sums) {
  Config notes;
  for (const auto& [name, entry] : sums) {
    if (entry.second == 0) continue;
    char sum[40];
    std::snprintf(sum, sizeof sum, "%a", entry.first.item());
    notes[kMetricNote + name] = std::string(sum) + " " + std::to_string(entry.second);
  }
  return notes;
}

void TrainingRun::checkpoint_unlogged(int64_t step, const Resumable& state) {
  Config notes = sum_notes(sums_);
  const Config guard = guard_notes();
  notes.insert(guard.begin(), guard.end());
  const Checkpoint c = state.capture(step, config_, notes);
  check_finite_state(c, dir_.file("checkpoint.safetensors"));
  save_checkpoint(dir_.file("checkpoint.safetensors"), c);
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
  guard_.record_loss(name, value);
}

bool TrainingRun::step_done(int64_t& step, int64_t epoch, int64_t items) {
  // On the CPU a read-back costs nothing: every step is checked. On a GPU the records wait on the
  // device until a step that reads anyway (log), or writes weights (sample, checkpoint), or stops.
  const bool writes = due(step, options_.checkpoint_every) || due(step, options_.sample_every);
  const bool check = !options_.device.is_cuda() || writes || due(step, options_.log_every) || interrupt_requested();
  guard_.end_step(step, parameters_, check);
  if (check) {
    if (const std::optional<Divergence> bad = guard_.check()) {
      on_divergence(*bad, step);
      return false;
    }
    skips_in_row_ = 0;
    if (on_nan_ == OnNan::Skip) last_check_ = capture_good(step, {});
  }
  if (due(step, options_.log_every)) flush_metrics(step);
  if (rollbacks_ == 0 && skipped_ == 0) {
    progress_.update(step, epoch, last_, items);
  } else {  // the progress line counts what the NaN guard did
    report::Metrics shown = last_;
    if (rollbacks_ > 0) shown.emplace_back("rollbacks", double(rollbacks_));
    if (skipped_ > 0) shown.emplace_back("skipped", double(skipped_));
    progress_.update(step, epoch, shown, items);
  }
  return true;
}

TrainingRun::GoodState TrainingRun::capture_good(int64_t step, const Config& notes) {
  return {state_->capture(step, config_, notes), sums_, lr_scale_};
}

Config TrainingRun::guard_notes() const {
  return {{kLrScaleNote, exact_number(lr_scale_)},
          {kRollbacksNote, std::to_string(rollbacks_)},
          {kSkippedNote, std::to_string(skipped_)}};
}

void TrainingRun::say(const std::string& line) {
  progress_.finish();
  std::printf("kiln: %s\n", line.c_str());
  std::fflush(stdout);
  guard_events_.push_back(line);
}

void TrainingRun::on_divergence(const Divergence& bad, int64_t& step) {
  const std::string what = "step " + std::to_string(bad.step) + ": " + bad.what;
  if (on_nan_ == OnNan::Stop) stop_diverged(bad, "--on-nan stop");
  if (on_nan_ == OnNan::Skip) {
    if (++skips_in_row_ > options_.nan_limit)
      stop_diverged(bad, "--nan-limit " + std::to_string(options_.nan_limit) + " reached: " +
                             counted(skips_in_row_, "diverging check", "diverging checks") + " in a row");
    // The updates since the last good check are dropped; data and noise go on to the next batch.
    state_->restore_from(last_check_.state, /*weights_only=*/true);
    sums_ = last_check_.sums;
    const int64_t dropped = step - last_check_.state.step;
    skipped_ += dropped;
    say(what + "; skipped " + (dropped == 1 ? std::string("its update") : "the updates of steps " +
                               std::to_string(last_check_.state.step + 1) + " to " + std::to_string(step)) +
        " (" + std::to_string(skips_in_row_) + " of at most " + std::to_string(options_.nan_limit) + " in a row)");
    last_check_.state.step = step;  // the weights are those of the last good check; the steps up to here are done
    return;
  }
  if (rollbacks_ >= options_.nan_limit)
    stop_diverged(bad, "--nan-limit " + std::to_string(options_.nan_limit) + " reached: " +
                           counted(rollbacks_, "rollback", "rollbacks") + " before");
  ++rollbacks_;
  const GoodState& good = last_checkpoint_;
  state_->restore_from(good.state);
  lr_scale_ /= 2;
  // The optimizers' rates are the checkpoint's, made at good.lr_scale: bring them to the new scale.
  for (auto& [name, optimizer] : state_->optimizers) optimizer->set_lr(optimizer->lr() * lr_scale_ / good.lr_scale);
  sums_ = good.sums;
  dir_.truncate_metrics(good.state.step);  // the rows after it are redone
  step = good.state.step;
  say(what + "; rolled back to step " + std::to_string(step) + " and halved the learning rate to " +
      learning_rate_text(options_.lr * lr_scale_) + " (rollback " + std::to_string(rollbacks_) + " of at most " +
      std::to_string(options_.nan_limit) + ")");
}

void TrainingRun::stop_diverged(const Divergence& bad, const std::string& why) {
  // The last good state becomes the run's checkpoint (it may be the start of the run, or the checkpoint
  // already there), so that `kiln resume` continues from it, e.g. with a smaller --lr.
  const GoodState& good = last_checkpoint_;
  Checkpoint c = good.state;  // with the counts as they are now (its learning-rate scale is its own)
  c.notes[kRollbacksNote] = std::to_string(rollbacks_);
  c.notes[kSkippedNote] = std::to_string(skipped_);
  for (const auto& [key, value] : sum_notes(good.sums)) c.notes[key] = value;  // (the start of a resumed run has some)
  const std::string path = dir_.file("checkpoint.safetensors");
  check_finite_state(c, path);
  save_checkpoint(path, c);
  say("step " + std::to_string(bad.step) + ": " + bad.what + "; stopped (" + why + ")");
  write_report();
  // A resumed run's rate is its --lr times the checkpoint's scale: suggest half the rate that diverged.
  KILN_FAIL("the run diverged: step ", bad.step, ": ", bad.what, "; stopped (", why, "). ", dir_.path(),
            " keeps the last good state, the checkpoint of step ", good.state.step,
            ": continue it with a smaller learning rate, e.g. kiln resume ", shell_word(dir_.path()), " --lr ",
            learning_rate_text(options_.lr * lr_scale_ / 2 / good.lr_scale));
}

void TrainingRun::log(int64_t step, const report::Metrics& metrics) {
  dir_.log(step, metrics);
  progress_.finish();
  for (const auto& [name, value] : metrics) std::printf("  %s %.6g\n", name.c_str(), value);
  std::fflush(stdout);
}

void TrainingRun::write_report() {
  report::RunReport report = report_;
  if (!guard_events_.empty()) {  // what the NaN guard did (--on-nan)
    std::string events;
    for (const std::string& e : guard_events_) events += (events.empty() ? "" : "; ") + e;
    report.results.emplace_back("NaN guard", events);
  }
  report.plots = {dir_.write_curves(report.title)};
  report.timing = {{"elapsed", report::format_duration(progress_.elapsed_seconds())},
                   {"throughput", std::to_string(int64_t(progress_.items_per_second())) + " per second"},
                   {"device", device_string(options_.device)}};
  report::write_html_report(dir_.file("report.html"), report);
}

bool TrainingRun::end_of_step(int64_t step, const Resumable& state) {
  const bool stop = interrupt_requested() && step < options_.steps;
  // A checkpoint that is due logs its row as always, interrupted or not (an uninterrupted run has that
  // row); only an interruption between checkpoints carries the pending sums in the checkpoint instead.
  if (due(step, options_.checkpoint_every))
    checkpoint(step, state);
  else if (stop)
    checkpoint_unlogged(step, state);
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
  if (rollbacks_ > 0 || skipped_ > 0)
    std::printf("kiln: the NaN guard %s%s%s; the learning rate ends at %s\n",
                rollbacks_ > 0 ? ("rolled back " + counted(rollbacks_, "time", "times")).c_str() : "",
                rollbacks_ > 0 && skipped_ > 0 ? " and " : "",
                skipped_ > 0 ? ("skipped " + counted(skipped_, "step", "steps")).c_str() : "",
                learning_rate_text(options_.lr * lr_scale_).c_str());
  std::printf("kiln: done; report: %s\n", dir_.file("report.html").c_str());
  std::fflush(stdout);
}

}  // namespace kiln::apps
