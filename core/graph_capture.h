// The host side of capturing a step into a CUDA graph, without CUDA headers: while a GraphCapture is
// current on a thread, kiln's ops record what each replay must redo on the host before the graph runs
// (hooks: an optimizer's step counts and learning-rate scalars) and draw random numbers relative to a
// per-generator device state that is rewritten before every replay (so Philox offsets advance between
// replays exactly as without the graph). core/cuda_graph.h drives it; the logic is tested on the CPU.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/device.h"
#include "kernels/common/philox.h"

namespace kiln {

class Generator;
class Tensor;

class GraphCapture {
 public:
  // A capture of work on `device` (a CUDA device; the CPU only in tests, where "device memory" is host memory).
  explicit GraphCapture(Device device);
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;

  Device device() const { return device_; }

  // The capture current on this thread, or null: ops ask it whether they are being captured.
  static GraphCapture* current();

  // Runs before every replay, in the order added (never during the capture itself).
  void before_replay(std::function<void()> hook);
  // Keeps a tensor alive as long as the graph (state its kernels read, e.g. an optimizer's scalars).
  void keep_alive(const Tensor& tensor);

  // A captured draw of `numel` elements from `generator`: the offset relative to the generator's state
  // at replay time, and that state's device address. The generator is not advanced now: each replay
  // advances it by all the captured draws together (`increment`), as the uncaptured step would.
  philox::Args philox(Generator& generator, int64_t numel);
  // Counter blocks one replay takes from `generator` (0 if the capture never drew from it).
  uint64_t increment(const Generator& generator) const;

  // Before a replay: writes each generator's (seed, offset) to its device state, advances the
  // generators, then runs the hooks. The graph launch follows on the same stream.
  void prepare_replay();

 private:
  struct GeneratorUse;
  Device device_;
  std::vector<std::unique_ptr<GeneratorUse>> generators_;
  std::vector<std::function<void()>> hooks_;
  std::vector<Tensor> kept_;
};

// Makes `capture` current on this thread for the scope's lifetime (the previous one is restored).
class GraphCaptureScope {
 public:
  explicit GraphCaptureScope(GraphCapture& capture);
  ~GraphCaptureScope();
  GraphCaptureScope(const GraphCaptureScope&) = delete;
  GraphCaptureScope& operator=(const GraphCaptureScope&) = delete;

 private:
  GraphCapture* previous_;
};

}  // namespace kiln
