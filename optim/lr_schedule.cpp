#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace kiln {

namespace {
void check_lr(const char* who, const char* what, double lr) {
  KILN_CHECK(std::isfinite(lr) && lr >= 0.0, who, ": invalid ", what, " ", lr);
}
void check_step(int64_t step) { KILN_CHECK(step >= 0, "lr schedule: step must be >= 0, got ", step); }
}  // namespace

double LrSchedule::apply(Optimizer& optimizer, int64_t step) const {
  double lr = lr_at(step);
  optimizer.set_lr(lr);
  return lr;
}

ConstantLR::ConstantLR(double base_lr) : base_(base_lr) { check_lr("ConstantLR", "base_lr", base_lr); }

// lr(t) = base
double ConstantLR::lr_at(int64_t step) const {
  check_step(step);
  return base_;
}

StepLR::StepLR(double base_lr, int64_t step_size, double gamma) : base_(base_lr), step_size_(step_size), gamma_(gamma) {
  check_lr("StepLR", "base_lr", base_lr);
  KILN_CHECK(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
  KILN_CHECK(std::isfinite(gamma) && gamma >= 0.0, "StepLR: invalid gamma ", gamma);
}

// lr(t) = base · gamma^⌊t / step_size⌋
double StepLR::lr_at(int64_t step) const {
  check_step(step);
  return base_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineWarmupLR::CosineWarmupLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr)
    : base_(base_lr), warmup_(warmup_steps), total_(total_steps), min_(min_lr) {
  check_lr("CosineWarmupLR", "base_lr", base_lr);
  check_lr("CosineWarmupLR", "min_lr", min_lr);
  KILN_CHECK(warmup_steps >= 0, "CosineWarmupLR: warmup_steps must be >= 0, got ", warmup_steps);
  KILN_CHECK(total_steps >= warmup_steps, "CosineWarmupLR: total_steps (", total_steps,
             ") must be >= warmup_steps (", warmup_steps, ")");
}

// lr(t) = base·t/warmup (t < warmup) ;  min + (base − min)·½(1 + cos(π·progress))
double CosineWarmupLR::lr_at(int64_t step) const {
  check_step(step);
  if (step < warmup_) return base_ * static_cast<double>(step) / static_cast<double>(warmup_);
  if (step >= total_) return min_;
  double progress = static_cast<double>(step - warmup_) / static_cast<double>(total_ - warmup_);
  progress = std::min(progress, 1.0);
  return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace kiln
