// Anomaly detection for backward, like torch.autograd.set_detect_anomaly: while it is on, every op
// remembers where its forward was called (a stack trace captured when the op is recorded), and the
// engine checks the gradients each backward returns: the first op whose backward produces a NaN or an
// infinity stops backward with an error that names the op and that call site. Off (the default), it
// costs one flag test per op.
#pragma once
#include <string>
#include <vector>

namespace kiln {

bool anomaly_mode_enabled();
void set_anomaly_mode(bool enabled);

// RAII: anomaly detection on (or off) for its scope, then as before.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool enabled = true) : previous_(anomaly_mode_enabled()) { set_anomaly_mode(enabled); }
  ~DetectAnomalyGuard() { set_anomaly_mode(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// The return addresses of the current call stack (the caller's frame first).
std::vector<void*> capture_call_stack();
// The frames as readable lines, "    at kiln::sqrt(kiln::Tensor const&)", from the first frame outside
// the autograd recording machinery, at most `max_frames` of them. Function names need the executable's
// symbols exported (CMake's ENABLE_EXPORTS, as kiln and kiln_tests are linked); else addresses.
std::string describe_call_stack(const std::vector<void*>& frames, size_t max_frames = 8);

}  // namespace kiln
