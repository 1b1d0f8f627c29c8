// Optimizers over a list of parameters (leaf tensors with requires_grad), with torch.optim's exact
// update rules and defaults. step() is fused: the parameters with a gradient are grouped by (device,
// dtype) and each group is updated by one kernel call (kernels/{cpu,cuda}/optim_step; on CUDA one launch
// per 58–91 tensors), with the per-element math of kernels/common/optim_math.h. No host-device sync.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln {

// Named state tensors, for checkpoints: "lr", "step_count", and per parameter "param.<i>.<name>"
// (e.g. "param.0.exp_avg", "param.0.step").
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; parameters without one are skipped
  // (their state and step count are left as they are, as in PyTorch). Gradients must be on their
  // parameter's device; a gradient of another dtype or a non-contiguous one is converted first.
  void step();
  // Inside a CUDA-graph capture (core/cuda_graph.h) step() records kernels that read the learning rate and
  // bias corrections from device memory, and each replay first does the host part of a step (step counts,
  // those scalars from the current lr()): a replayed step updates exactly as an uncaptured one. Capture needs
  // the state to exist already (one uncaptured step first).
  //
  // Reads the step's scalars from memory even outside a capture (the captured kernels' path, so that the CPU
  // tests can compare it with the plain one). Off by default.
  void set_scalars_in_memory(bool on) { scalars_in_memory_ = on; }
  // Sets every parameter's gradient to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);                       // for schedules
  int64_t step_count() const { return step_count_; }  // number of step() calls
  int64_t param_step(size_t i) const;           // updates parameter i has received
  const std::vector<Tensor>& params() const { return params_; }

  // The whole state (learning rate, step counts, per-parameter buffers) as named tensors; the tensors
  // are the live buffers (clone them to keep a snapshot while training continues).
  NamedTensors state_tensors() const;
  // Replaces the state with a saved one (from an optimizer of the same kind over parameters of the same
  // shapes); buffers are copied onto each parameter's device and dtype. Unknown names, a missing "lr",
  // "step_count", step or buffer of an updated parameter, and a step that is not a whole number from 0
  // to 2^53 are errors naming the entry; on an error nothing changes.
  void load_state_tensors(const NamedTensors& state);

 protected:
  struct ParamState {
    int64_t step = 0;
    NamedTensors buffers;  // e.g. {"exp_avg", t}
    Tensor* find(const std::string& name);
  };
  // A parameter to update: contiguous, with a contiguous gradient of its dtype on its device.
  struct Entry {
    Tensor param;
    Tensor grad;
    ParamState* state;  // state->step is already incremented
  };
  // Updates all `entries` (one device, one dtype; grad mode off) with one fused kernel call; with
  // `step_scalars` (memory of the group's device) the kernel reads the step's scalars from there.
  virtual void update_group(Device device, DType dtype, const std::vector<Entry>& entries,
                            const double* step_scalars) = 0;
  // The values step_scalars holds for `entries` at this step (kernels/common/optim_math.h's layout).
  virtual std::vector<double> step_scalars(const std::vector<Entry>& entries) const = 0;
  // The buffer names this optimizer may keep per parameter (for load_state_tensors' checks).
  virtual std::vector<std::string> buffer_names() const = 0;
  // The buffers every update of a parameter creates with this optimizer's options: a saved state of an
  // updated parameter that lacks one of them is incomplete (load_state_tensors refuses it).
  virtual std::vector<std::string> required_buffer_names() const = 0;
  // The buffer `name` of `state`: created as zeros like `param` when missing, and moved to the
  // parameter's device and dtype (contiguous) when it is not there (e.g. after Module::to).
  static Tensor buffer(ParamState& state, const std::string& name, const Tensor& param);

 private:
  std::vector<Tensor> params_;
  std::vector<ParamState> state_;
  double lr_;
  int64_t step_count_ = 0;
  bool scalars_in_memory_ = false;

  void capture_step(std::vector<std::vector<Entry>>& groups);
};

// torch.optim.SGD:  g ← g + wd·p ;  b ← g on the first step, else μ·b + (1−dampening)·g ;
//                   g ← g + μ·b (nesterov) or b ;  p ← p − lr·g   (sgd_update_element in optim_math.h)
struct SGDOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 protected:
  void update_group(Device device, DType dtype, const std::vector<Entry>& entries, const double* step_scalars) override;
  std::vector<double> step_scalars(const std::vector<Entry>& entries) const override;
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  std::vector<std::string> required_buffer_names() const override {
    return options_.momentum != 0.0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  }

 private:
  SGDOptions options_;
};

// torch.optim.Adam (L2 weight decay added to the gradient) and AdamW (decoupled: p ← p·(1 − lr·wd)):
//   m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g² ;  v̂ ← max(v̂, v) (amsgrad)
//   denom = √v / √(1−β2ᵗ) + eps ;  p ← p − lr/(1−β1ᵗ) · m/denom   (adam_update_element in optim_math.h)
struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2 (see AdamW)
  bool amsgrad = false;
};
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> params, double lr, AdamOptions options, bool decoupled);
  void update_group(Device device, DType dtype, const std::vector<Entry>& entries, const double* step_scalars) override;
  std::vector<double> step_scalars(const std::vector<Entry>& entries) const override;
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
  std::vector<std::string> required_buffer_names() const override {
    if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
  }

 private:
  AdamOptions options_;
  bool decoupled_;  // AdamW
};

// AdamOptions with AdamW's default weight decay (1e-2).
inline AdamOptions adamw_defaults() {
  AdamOptions o;
  o.weight_decay = 1e-2;
  return o;
}
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = adamw_defaults());
};

}  // namespace kiln
