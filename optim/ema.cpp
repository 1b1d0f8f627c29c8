#include "optim/ema.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/ops/ops.h"
#include "core/storage.h"
#include "core/tensor_data.h"
#include "kernels/cpu/optim_step.h"
#include "kernels/cuda/optim_step.h"
#include "optim/state_checks.h"

namespace kiln {

EMA::EMA(const std::vector<Tensor>& params, double decay) : decay_(decay) {
  set_decay(decay);
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    KILN_CHECK(params[i].defined(), "EMA: parameter ", i, " is undefined");
    KILN_CHECK(params[i].dtype() == DType::Float32 || params[i].dtype() == DType::Float64, "EMA: parameter ", i,
               " has dtype ", dtype_name(params[i].dtype()), " (float32 or float64 expected)");
    shadow_.push_back(clone(params[i].detach()));
  }
}

void EMA::check_params(const char* who, const std::vector<Tensor>& params) const {
  KILN_CHECK(params.size() == shadow_.size(), who, ": got ", params.size(), " parameters, the EMA has ",
             shadow_.size());
  for (size_t i = 0; i < params.size(); ++i)
    KILN_CHECK(params[i].defined() && params[i].shape() == shadow_[i].shape(), who, ": parameter ", i,
               " has shape ", params[i].defined() ? shape_str(params[i].shape()) : std::string("(undefined)"),
               ", the EMA has ", shape_str(shadow_[i].shape()));
}

void EMA::set_decay(double decay) {
  KILN_CHECK(decay >= 0.0 && decay <= 1.0, "EMA: decay must be in [0, 1], got ", decay);
  decay_ = decay;
}

// ema ← decay·ema + (1 − decay)·p, as torch.lerp(ema, p, 1 − decay) (kernels/common/optim_math.h): one
// fused kernel call per (device, dtype) group of averages.
void EMA::update(const std::vector<Tensor>& params) {
  check_params("EMA::update", params);
  NoGradGuard no_grad;
  struct Group {
    Device device;
    DType dtype;
    std::vector<EmaTensor> tensors;
    std::vector<Tensor> keep_alive;  // converted copies of parameters, alive until the kernel call
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& ema = shadow_[i];
    KILN_CHECK(params[i].device() == ema.device(), "EMA::update: parameter ", i, " is on ", params[i].device().str(),
               ", its average on ", ema.device().str());
    Tensor p = params[i].detach();
    if (p.dtype() != ema.dtype()) p = p.to(ema.dtype());
    p = p.contiguous();
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const Group& g) { return g.device == ema.device() && g.dtype == ema.dtype(); });
    if (group == groups.end()) group = groups.insert(groups.end(), Group{ema.device(), ema.dtype(), {}, {}});
    group->tensors.push_back({ema.data(), p.data(), ema.numel()});
    group->keep_alive.push_back(p);
  }
  for (const Group& g : groups) KILN_DEVICE_CALL(g.device, "EMA.update", ema_step, g.dtype, g.tensors, 1.0 - decay_);
  for (const Tensor& ema : shadow_) ema.storage()->bump_version();
  ++num_updates_;
}

void EMA::copy_to(const std::vector<Tensor>& params) const {
  check_params("EMA::copy_to", params);
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) Tensor(params[i]).copy_(shadow_[i]);
}

NamedTensors EMA::state_tensors() const {
  NamedTensors out;
  out.emplace_back("decay", from_vector(std::vector<double>{decay_}, Shape{}, {.dtype = DType::Float64}));
  out.emplace_back("num_updates",
                   from_vector(std::vector<int64_t>{num_updates_}, Shape{}, {.dtype = DType::Int64}));
  for (size_t i = 0; i < shadow_.size(); ++i) out.emplace_back("shadow." + std::to_string(i), shadow_[i]);
  return out;
}

void EMA::load_state_tensors(const NamedTensors& state) {
  std::vector<bool> seen(shadow_.size(), false);
  std::optional<double> decay;
  std::optional<int64_t> updates;
  std::vector<std::pair<size_t, Tensor>> values;
  for (const auto& [name, t] : state) {
    KILN_CHECK(t.defined(), "EMA::load_state_tensors: '", printable(name), "' is undefined");
    if (name == "decay") {
      decay = saved_real(t, name);
      KILN_CHECK(*decay >= 0.0 && *decay <= 1.0, "EMA::load_state_tensors: invalid decay ", *decay);
    } else if (name == "num_updates") {
      updates = saved_count(t, name);  // checked: casting Inf or NaN to an integer is undefined behaviour
    } else {
      KILN_CHECK(name.rfind("shadow.", 0) == 0 && name.size() > 7 &&
                     name.find_first_not_of("0123456789", 7) == std::string::npos,
                 "EMA::load_state_tensors: unknown state '", printable(name), "'");
      const size_t i = saved_index(name.substr(7), name, shadow_.size(), "tensor");
      KILN_CHECK(!seen[i], "EMA::load_state_tensors: '", name, "' appears twice");
      KILN_CHECK(t.shape() == shadow_[i].shape(), "EMA::load_state_tensors: '", name, "' has shape ",
                 shape_str(t.shape()), ", expected ", shape_str(shadow_[i].shape()));
      seen[i] = true;
      values.emplace_back(i, t);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i)
    KILN_CHECK(seen[i], "EMA::load_state_tensors: 'shadow.", i, "' is missing");
  KILN_CHECK(decay.has_value(), "EMA::load_state_tensors: 'decay' is missing");
  KILN_CHECK(updates.has_value(), "EMA::load_state_tensors: 'num_updates' is missing");
  NoGradGuard no_grad;
  for (auto& [i, t] : values) shadow_[i].copy_(t);
  decay_ = *decay;
  num_updates_ = *updates;
}

}  // namespace kiln
