#include "apps/bench/step_capture.h"

namespace kiln::apps::bench {

std::optional<StepFunction> capture_whole_step(const StepFunction&, Device device, std::string& why_not) {
  if (!device.is_cuda()) {
    why_not = "CUDA graphs are a CUDA feature (this run is on the CPU)";
    return std::nullopt;
  }
  why_not = "whole-step CUDA-graph capture is not available in kiln yet (issue 14, item 2)";
  return std::nullopt;
}

}  // namespace kiln::apps::bench
