#include "report/progress.h"

#include <unistd.h>

#include <cmath>
#include <sstream>

#include "core/cuda_context.h"

namespace kiln::report {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(std::llround(seconds));
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
  return buf;
}

ProgressLine::ProgressLine(int64_t first_step, int64_t total_steps, std::string unit, Device device,
                           double log_seconds, std::FILE* out)
    : first_step_(first_step),
      total_steps_(total_steps),
      unit_(std::move(unit)),
      device_(device),
      log_seconds_(log_seconds),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(Clock::now()),
      last_print_(start_) {}

double ProgressLine::elapsed_seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

double ProgressLine::items_per_second() const {
  const double t = elapsed_seconds();
  return t > 0 ? double(items_) / t : 0.0;
}

std::string ProgressLine::text(int64_t step, int64_t epoch, const Metrics& metrics) const {
  std::ostringstream line;
  line << "step " << step << "/" << total_steps_;
  if (epoch >= 0) line << "  epoch " << epoch;
  char buf[64];
  for (const auto& [name, value] : metrics) {
    std::snprintf(buf, sizeof buf, "  %s %.4g", name.c_str(), value);
    line << buf;
  }
  std::snprintf(buf, sizeof buf, "  %.0f %s/s", items_per_second(), unit_.c_str());
  line << buf;
  const double per_step = steps_done_ > 0 ? elapsed_seconds() / double(steps_done_) : NAN;
  line << "  ETA " << format_duration(per_step * double(total_steps_ - step));
  if (device_.is_cuda()) {
    std::snprintf(buf, sizeof buf, "  GPU %.0f MiB",
                  double(cuda::memory_stats(device_.index).peak_reserved) / (1024.0 * 1024.0));
    line << buf;
  }
  return line.str();
}

void ProgressLine::update(int64_t step, int64_t epoch, const Metrics& metrics, int64_t items) {
  items_ += items;
  steps_done_ = step - first_step_ + 1;
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  const bool last = step >= total_steps_;
  if (tty_ ? (since < 0.2 && !last) : (since < log_seconds_ && !last && steps_done_ > 1)) return;
  last_print_ = now;
  const std::string line = text(step, epoch, metrics);
  if (tty_) {
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace kiln::report
