// The one place where `kiln bench models --graph on|both` gets a whole training step captured into a
// CUDA graph (issue 14 item 2), through core/cuda_graph.h's CapturedStep: the same capture C++ users and
// `kiln train --cuda-graph on` get.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "core/device.h"

namespace kiln::apps::bench {

using StepFunction = std::function<void()>;

// Captures `step` (already warmed up by the caller) on `device` and returns the function that replays
// it, to be timed in its place; nullopt with `why_not` set when the step cannot be captured here.
std::optional<StepFunction> capture_whole_step(const StepFunction& step, Device device, std::string& why_not);

}  // namespace kiln::apps::bench
