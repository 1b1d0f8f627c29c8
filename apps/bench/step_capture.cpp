#include "apps/bench/step_capture.h"

#include <memory>

#include "core/cuda_graph.h"

namespace kiln::apps::bench {

// The caller has warmed the step up already; CapturedStep still wants one eager call of its own (its
// policy's warm-up), then the second call captures and launches the graph. What is returned replays it.
std::optional<StepFunction> capture_whole_step(const StepFunction& step, Device device, std::string& why_not) {
  why_not = CapturedStep::device_reason(device);
  if (!why_not.empty()) return std::nullopt;
  auto captured = std::make_shared<CapturedStep>(device, step, CapturedStep::Options{1, 1});
  captured->run();
  captured->run();
  if (captured->last_mode() != StepMode::Capture) {
    why_not = captured->unsupported_reason().empty() ? "the step was not captured" : captured->unsupported_reason();
    return std::nullopt;
  }
  return StepFunction([captured] { captured->run(); });
}

}  // namespace kiln::apps::bench
