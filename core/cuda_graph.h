// Whole-step CUDA graphs for C++ users: CapturedStep runs a step function eagerly for a few warm-up
// calls, then captures it once into a CUDA graph on kiln's current stream and replays the graph on
// later calls (one launch instead of hundreds). CapturePolicy, the decision of when to run eagerly,
// capture or replay (warm-up, changing shapes, giving up), is plain logic tested on the CPU.
//
// What a captured step must respect (docs/cuda.md, "CUDA graphs"):
// - It reads its inputs from tensors that outlive the graph (copy each batch into them before run())
//   and leaves its outputs in variables that outlive it (each replay rewrites the same memory).
// - No host synchronization inside: no item(), to_vector(), .cpu() or printing of CUDA tensors (a
//   capture that meets one fails and the step runs eagerly, with unsupported_reason() saying so).
// - Host-side state that changes per step must be the kind kiln replays: random draws (generators
//   advance at each replay), the optimizer's step counts and learning rate (set_lr / schedules applied
//   before run() are read at each replay). Anything else on the host runs only once, at the capture.
// - After tensors the graph uses are replaced (a checkpoint restored into new buffers), call reset().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/device.h"

namespace kiln {

enum class StepMode { Eager, Capture, Replay };

class CapturePolicy {
 public:
  // `warmup_steps` eager calls with one signature before it is captured (≥ 1: the first step creates the
  // optimizer's state and initializes libraries); at most `max_captures` graphs in all, after which the
  // step's shapes are taken to vary from step to step and it stays eager.
  explicit CapturePolicy(int warmup_steps = 2, int max_captures = 4);
  // How to run the next call, whose inputs are described by `signature` (shapes, batch size).
  StepMode next(const std::string& signature);
  // The outcome of a call next() answered Capture with.
  void captured();
  // Capture cannot be used from now on (the step stays eager), for `reason`.
  void disable(const std::string& reason);
  // Forget the graph (its tensors were replaced): the signature is captured again after warm-up.
  void drop_graph();
  bool disabled() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }
  int captures() const { return captures_; }

 private:
  int warmup_, max_captures_;
  bool has_graph_ = false;
  std::string graph_signature_, candidate_;
  int streak_ = 0, captures_ = 0;
  std::string reason_;
};

class CapturedStep {
 public:
  struct Options {
    int warmup_steps = 2;
    int max_captures = 4;
  };
  // A step on `device`. On the CPU, or in a kiln built without CUDA, run() simply calls the step.
  CapturedStep(Device device, std::function<void()> step, Options options);
  CapturedStep(Device device, std::function<void()> step);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // One step: eagerly, or capturing it then replaying the graph, or replaying it. `signature` describes
  // the inputs' shapes: a call whose signature differs from the graph's runs eagerly (a last smaller
  // batch), and a new signature that persists is captured anew (--batch auto changed the batch).
  void run(const std::string& signature = "");
  // The mode the last run() used.
  StepMode last_mode() const { return last_mode_; }
  int64_t replays() const { return replays_; }
  int captures() const { return policy_.captures(); }
  // Why the step runs without a graph ("" while capture is usable): the device, the build, a failed
  // capture (naming the likely cause, e.g. an item() inside the step), shapes that keep changing.
  const std::string& unsupported_reason() const { return policy_.reason(); }
  // Drops the graph and its memory pool; the step is captured again after warm-up.
  void reset();
  // The step runs eagerly from now on, for `reason` (e.g. "--cuda-graph off").
  void disable(const std::string& reason);
  // Why `device` cannot capture at all in this build ("" when it can).
  static std::string device_reason(Device device);
  // The message for a capture that failed with `error` (what CUDA or the step's code said): the likely
  // cause in words. Exposed for tests.
  static std::string explain_capture_failure(const std::string& error);

 private:
  struct Graph;
  Device device_;
  std::function<void()> step_;
  CapturePolicy policy_;
  std::unique_ptr<Graph> graph_;
  StepMode last_mode_ = StepMode::Eager;
  int64_t replays_ = 0;

  void capture();
  void replay();
};

}  // namespace kiln
