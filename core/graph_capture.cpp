#include "core/graph_capture.h"

#include "core/error.h"
#include "core/random.h"
#include "core/tensor.h"
#if KILN_HAVE_CUDA
#include "core/cuda_context.h"
#include "kernels/cuda/cuda_kernels.h"
#endif

namespace kiln {

namespace {
thread_local GraphCapture* current_capture = nullptr;
}  // namespace

// One generator a capture drew from: its device state {seed, base offset} and the blocks a replay takes.
struct GraphCapture::GeneratorUse {
  Generator* generator;
  Tensor state;  // two int64 holding uint64 bit patterns
  uint64_t increment = 0;
};

GraphCapture::GraphCapture(Device device) : device_(device) {}
GraphCapture::~GraphCapture() = default;

GraphCapture* GraphCapture::current() { return current_capture; }

void GraphCapture::before_replay(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

void GraphCapture::keep_alive(const Tensor& tensor) { kept_.push_back(tensor); }

philox::Args GraphCapture::philox(Generator& generator, int64_t numel) {
  GeneratorUse* use = nullptr;
  for (auto& u : generators_)
    if (u->generator == &generator) use = u.get();
  if (use == nullptr) {
    generators_.push_back(std::make_unique<GeneratorUse>());
    use = generators_.back().get();
    use->generator = &generator;
    // empty, not zeros: a fill here would be captured and would wipe the state at every replay, after
    // prepare_replay wrote it. The memory is the graph's (its pool) and is written before each launch.
    use->state = empty({2}, {.dtype = DType::Int64, .device = device_});
  }
  const uint64_t relative = use->increment;
  use->increment += (uint64_t(numel) + 3) / 4;  // Generator::advance's arithmetic
  return {0, relative, static_cast<const uint64_t*>(use->state.data())};
}

uint64_t GraphCapture::increment(const Generator& generator) const {
  for (const auto& u : generators_)
    if (u->generator == &generator) return u->increment;
  return 0;
}

void GraphCapture::prepare_replay() {
  for (auto& u : generators_) {
    const uint64_t seed = u->generator->seed(), offset = u->generator->offset();
    auto* state = static_cast<uint64_t*>(u->state.data());
    if (device_.is_cpu()) {
      state[0] = seed;
      state[1] = offset;
    } else {
#if KILN_HAVE_CUDA
      cuda::use_device(device_.index);
      cuda::set_philox_state(state, seed, offset);
#else
      KILN_FAIL("graph capture on ", device_.str(), ": this kiln was built without CUDA");
#endif
    }
    u->generator->set_state(seed, offset + u->increment);
  }
  for (auto& hook : hooks_) hook();
}

GraphCaptureScope::GraphCaptureScope(GraphCapture& capture) : previous_(current_capture) { current_capture = &capture; }
GraphCaptureScope::~GraphCaptureScope() { current_capture = previous_; }

}  // namespace kiln
