// Whether ops record the autograd graph: on by default, off inside a NoGradGuard and during backward.
#pragma once

namespace kiln {

bool grad_mode_enabled();
void set_grad_mode(bool enabled);

// RAII: disables graph recording for its scope (like torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace kiln
