#include "apps/interrupt.h"

#include <csignal>

namespace kiln::apps {
namespace {

volatile std::sig_atomic_t g_requested = 0;

// Only async-signal-safe work here: set the flag; on a second signal restore the default action and
// raise it again, which ends the process.
extern "C" void on_stop_signal(int signal_number) {
  if (g_requested) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_requested = 1;
}

}  // namespace

void install_interrupt_handlers() {
  static const bool installed = [] {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    return true;
  }();
  (void)installed;
}

bool interrupt_requested() { return g_requested != 0; }

}  // namespace kiln::apps
