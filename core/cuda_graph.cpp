#include "core/cuda_graph.h"

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/graph_capture.h"

namespace kiln {

// ---------------------------------------------------------------- CapturePolicy

CapturePolicy::CapturePolicy(int warmup_steps, int max_captures) : warmup_(warmup_steps), max_captures_(max_captures) {
  KILN_CHECK(warmup_steps >= 1, "CUDA graph: warmup_steps must be at least 1 (the first step creates the optimizer's "
                                "state), got ", warmup_steps);
  KILN_CHECK(max_captures >= 1, "CUDA graph: max_captures must be at least 1, got ", max_captures);
}

StepMode CapturePolicy::next(const std::string& signature) {
  if (disabled()) return StepMode::Eager;
  if (has_graph_ && signature == graph_signature_) {
    streak_ = 0;  // an odd batch in between does not count towards replacing the graph
    candidate_.clear();
    return StepMode::Replay;
  }
  if (streak_ > 0 && signature == candidate_) {
    ++streak_;
  } else {
    candidate_ = signature;
    streak_ = 1;
  }
  if (streak_ <= warmup_) return StepMode::Eager;
  if (captures_ >= max_captures_) {
    disable(detail::concat("the step's input shapes keep changing (", captures_,
                           " graphs captured already, the latest for ", graph_signature_, ", now ", signature,
                           "): it runs without a graph"));
    return StepMode::Eager;
  }
  return StepMode::Capture;
}

void CapturePolicy::captured() {
  has_graph_ = true;
  graph_signature_ = candidate_;
  candidate_.clear();
  streak_ = 0;
  ++captures_;
}

void CapturePolicy::disable(const std::string& reason) {
  reason_ = reason.empty() ? "disabled" : reason;
  has_graph_ = false;
}

void CapturePolicy::drop_graph() {
  has_graph_ = false;
  graph_signature_.clear();
  candidate_.clear();
  streak_ = 0;
}

// ---------------------------------------------------------------- CapturedStep

std::string CapturedStep::device_reason(Device device) {
  if (device.is_cpu()) return "the device is the CPU (CUDA graphs need a GPU)";
#if KILN_HAVE_CUDA
  return "";
#else
  return "this kiln was built without CUDA";
#endif
}

std::string CapturedStep::explain_capture_failure(const std::string& error) {
  const bool sync = error.find("captur") != std::string::npos || error.find("not permitted") != std::string::npos ||
                    error.find("Synchronize") != std::string::npos;
  if (sync)
    return "capturing the step into a CUDA graph failed because the step waits for the GPU on the host "
           "(an item(), to_vector(), .cpu() or print of a CUDA tensor, or another blocking call, inside the "
           "step; read such values after it): " + error;
  return "capturing the step into a CUDA graph failed: " + error;
}

CapturedStep::CapturedStep(Device device, std::function<void()> step) : CapturedStep(device, std::move(step), Options{}) {}

CapturedStep::CapturedStep(Device device, std::function<void()> step, Options options)
    : device_(device), step_(std::move(step)), policy_(options.warmup_steps, options.max_captures) {
  KILN_CHECK(static_cast<bool>(step_), "CapturedStep: the step function is empty");
  if (const std::string why = device_reason(device); !why.empty()) policy_.disable(why);
}

#if KILN_HAVE_CUDA

struct CapturedStep::Graph {
  int device = 0;
  CachingAllocator::PoolId pool = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::unique_ptr<GraphCapture> capture;
  ~Graph() {
    if (exec != nullptr) KILN_CUDA_CHECK_NOTHROW(cudaGraphExecDestroy(exec));  // freed after an in-flight replay
    if (graph != nullptr) KILN_CUDA_CHECK_NOTHROW(cudaGraphDestroy(graph));
    capture.reset();  // the tensors it kept (generator states, optimizer scalars) go back to the pool
    if (pool != 0) cuda::release_memory_pool(device, pool);
  }
};

void CapturedStep::capture() {
  graph_.reset();
  auto g = std::make_unique<Graph>();
  g->device = device_.index;
  g->capture = std::make_unique<GraphCapture>(device_);
  cuda::use_device(device_.index);
  const auto stream = static_cast<cudaStream_t>(cuda::current_stream(device_.index));
  g->pool = cuda::create_memory_pool(device_.index);
  // Thread-local mode: a blocking call of this thread (a host read inside the step) fails the capture
  // instead of silently running once; other threads are unaffected.
  KILN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  cuda::begin_pool_capture(device_.index, g->pool);
  std::string error;
  try {
    GraphCaptureScope scope(*g->capture);
    step_();
  } catch (const std::exception& e) {
    error = e.what();
  }
  cuda::end_pool_capture(device_.index);
  const cudaError_t ended = cudaStreamEndCapture(stream, &g->graph);
  if (error.empty() && ended != cudaSuccess) error = detail::concat("cudaStreamEndCapture: ", cudaGetErrorString(ended));
  if (error.empty() && g->graph == nullptr) error = "cudaStreamEndCapture returned no graph";
  if (!error.empty()) {
    (void)cudaGetLastError();  // a capture error is not sticky; clear it so the eager step can run
    policy_.disable(explain_capture_failure(error));
    g.reset();
    step_();  // this call's step was never executed: run it now, eagerly
    last_mode_ = StepMode::Eager;
    return;
  }
  KILN_CUDA_CHECK(cudaGraphInstantiate(&g->exec, g->graph, 0));
  graph_ = std::move(g);
  policy_.captured();
  replay();  // the capture only recorded the step: this call's step is the first replay
  last_mode_ = StepMode::Capture;
}

void CapturedStep::replay() {
  cuda::use_device(device_.index);
  graph_->capture->prepare_replay();  // generator states, optimizer scalars: stream-ordered before the launch
  KILN_CUDA_CHECK(cudaGraphLaunch(graph_->exec, static_cast<cudaStream_t>(cuda::current_stream(device_.index))));
  ++replays_;
  last_mode_ = StepMode::Replay;
}

#else

struct CapturedStep::Graph {};
void CapturedStep::capture() { KILN_FAIL("CUDA graph: this kiln was built without CUDA"); }
void CapturedStep::replay() { KILN_FAIL("CUDA graph: this kiln was built without CUDA"); }

#endif

CapturedStep::~CapturedStep() = default;

void CapturedStep::run(const std::string& signature) {
  switch (policy_.next(signature)) {
    case StepMode::Eager:
      step_();
      last_mode_ = StepMode::Eager;
      return;
    case StepMode::Capture:
      capture();
      return;
    case StepMode::Replay:
      replay();
      return;
  }
}

void CapturedStep::reset() {
  graph_.reset();
  policy_.drop_graph();
}

void CapturedStep::disable(const std::string& reason) {
  graph_.reset();
  policy_.disable(reason);
}

}  // namespace kiln
