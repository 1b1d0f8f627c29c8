// Learning-rate schedules as functions of the step count: lr_at(step) gives the rate, apply(optimizer,
// step) sets it (call it before optimizer.step(), with the number of steps taken so far).
#pragma once
#include <cstdint>

#include "optim/optimizer.h"

namespace kiln {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t step) const = 0;
  // Sets the optimizer's learning rate to lr_at(step) and returns it.
  double apply(Optimizer& optimizer, int64_t step) const;
};

// lr(t) = base
class ConstantLR : public LrSchedule {
 public:
  explicit ConstantLR(double base_lr);
  double lr_at(int64_t step) const override;

 private:
  double base_;
};

// lr(t) = base · gamma^⌊t / step_size⌋   (torch.optim.lr_scheduler.StepLR)
class StepLR : public LrSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step) const override;

 private:
  double base_;
  int64_t step_size_;
  double gamma_;
};

// Linear warm-up then cosine decay to min_lr:
//   lr(t) = base · t / warmup                                   for t < warmup
//   lr(t) = min + (base − min) · ½(1 + cos(π · progress))       progress = (t − warmup)/(total − warmup), ≤ 1
// (min_lr from t ≥ total on).
class CosineWarmupLR : public LrSchedule {
 public:
  CosineWarmupLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
  double lr_at(int64_t step) const override;

 private:
  double base_;
  int64_t warmup_;
  int64_t total_;
  double min_;
};

}  // namespace kiln
