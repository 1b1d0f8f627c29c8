// Stopping a training run cleanly: Ctrl-C (SIGINT) or SIGTERM (from `timeout`, a batch scheduler or a
// shutdown) asks the run to stop at the end of the current step, after it has written a checkpoint, so
// that `kiln resume RUN` continues from there and no finished step is lost. A second signal ends the
// process at once.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kiln::apps {

// Installs the handlers (once; later calls do nothing).
void install_interrupt_handlers();
// Whether a signal has asked the run to stop.
bool interrupt_requested();

// Thrown by TrainingRun::finish after an interrupted run has saved its checkpoint; `kiln` exits with
// status 130 (128 + SIGINT, the shell's convention).
struct Interrupted : std::runtime_error {
  explicit Interrupted(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kiln::apps
