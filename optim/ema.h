// Exponential moving average of weights (e.g. for evaluating/sampling generative models):
//   ema ← decay·ema + (1 − decay)·p, computed as torch.lerp(ema, p, 1 − decay) by one fused kernel call
//   per (device, dtype) group (kernels/{cpu,cuda}/optim_step; on CUDA one launch per 144 tensors).
#pragma once
#include <cstdint>
#include <vector>

#include "optim/optimizer.h"

namespace kiln {

class EMA {
 public:
  // The averages start as copies of `params`.
  EMA(const std::vector<Tensor>& params, double decay);

  // ema ← decay·ema + (1 − decay)·p for each parameter (same order and shapes as at construction; each on
  // its average's device, converted to its dtype when it differs).
  void update(const std::vector<Tensor>& params);
  // Copies the averages into `params` (in place, no gradient recorded).
  void copy_to(const std::vector<Tensor>& params) const;

  double decay() const { return decay_; }
  void set_decay(double decay);
  int64_t num_updates() const { return num_updates_; }
  const std::vector<Tensor>& shadow() const { return shadow_; }

  // Checkpoint state: "decay", "num_updates", "shadow.<i>" (the live tensors).
  NamedTensors state_tensors() const;
  void load_state_tensors(const NamedTensors& state);

 private:
  void check_params(const char* who, const std::vector<Tensor>& params) const;
  std::vector<Tensor> shadow_;
  double decay_;
  int64_t num_updates_ = 0;
};

}  // namespace kiln
