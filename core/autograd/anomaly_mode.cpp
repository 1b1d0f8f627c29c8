#include "core/autograd/anomaly_mode.h"

#include <cxxabi.h>
#include <execinfo.h>

#include <atomic>
#include <cstdlib>
#include <memory>

namespace kiln {
namespace {

std::atomic<bool> g_anomaly_mode{false};

// "binary(mangled+0x1f) [0x...]" → the demangled function name, or the whole line when it has none.
std::string readable_frame(const char* line) {
  const std::string text = line;
  const size_t open = text.find('('), plus = text.find('+', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || plus == std::string::npos || plus == open + 1) return text;
  const std::string mangled = text.substr(open + 1, plus - open - 1);
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && name ? std::string(name.get()) : mangled;
}

// Frames of the recording machinery itself, which say nothing about the op's caller.
bool is_machinery(const std::string& frame) {
  for (const char* inner : {"capture_call_stack", "kiln::record_op", "backtrace"})
    if (frame.find(inner) != std::string::npos) return true;
  return false;
}

}  // namespace

bool anomaly_mode_enabled() { return g_anomaly_mode.load(std::memory_order_relaxed); }
void set_anomaly_mode(bool enabled) { g_anomaly_mode.store(enabled, std::memory_order_relaxed); }

std::vector<void*> capture_call_stack() {
  std::vector<void*> frames(48);
  frames.resize(size_t(::backtrace(frames.data(), int(frames.size()))));
  return frames;
}

std::string describe_call_stack(const std::vector<void*>& frames, size_t max_frames) {
  if (frames.empty()) return "    (no stack was captured)\n";
  std::unique_ptr<char*, void (*)(void*)> lines(::backtrace_symbols(frames.data(), int(frames.size())), std::free);
  if (!lines) return "    (the stack could not be read)\n";
  std::string out;
  size_t shown = 0;
  bool inside = true;  // still in the machinery's own frames
  for (size_t i = 0; i < frames.size() && shown < max_frames; ++i) {
    const std::string frame = readable_frame(lines.get()[i]);
    if (inside && is_machinery(frame)) continue;
    inside = false;
    out += "    at " + frame + "\n";
    ++shown;
  }
  return out;
}

}  // namespace kiln
