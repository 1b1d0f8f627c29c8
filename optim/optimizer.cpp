#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/graph_capture.h"
#include "core/printable.h"
#include "core/storage.h"
#include "core/tensor_data.h"
#include "kernels/cpu/optim_step.h"
#include "kernels/cuda/optim_step.h"
#include "optim/state_checks.h"

namespace kiln {

namespace {

Tensor int64_scalar(int64_t v) { return from_vector(std::vector<int64_t>{v}, Shape{}, {.dtype = DType::Int64}); }
Tensor f64_scalar(double v) { return from_vector(std::vector<double>{v}, Shape{}, {.dtype = DType::Float64}); }

// Writes `values` into the float64 tensor `dst` (on its device, stream-ordered on CUDA).
void write_scalars(const Tensor& dst, const std::vector<double>& values) {
  auto* d = static_cast<double*>(dst.data());
  if (dst.device().is_cpu()) {
    std::copy(values.begin(), values.end(), d);
  } else {
#if KILN_HAVE_CUDA
    cuda::use_device(dst.device().index);
    cuda::write_step_scalars(d, values);
#else
    throw_no_kernel("optimizer step scalars", dst.device());
#endif
  }
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), state_(params_.size()) {
  set_lr(lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    KILN_CHECK(params_[i].defined(), "optimizer: parameter ", i, " is undefined");
    KILN_CHECK(params_[i].is_leaf(), "optimizer: parameter ", i, " is not a leaf tensor (can't optimize it)");
    KILN_CHECK(is_floating(params_[i].dtype()), "optimizer: parameter ", i, " is not a floating-point tensor");
    for (size_t j = 0; j < i; ++j)
      KILN_CHECK(!params_[i].is_same(params_[j]), "optimizer: parameter ", i, " appears twice (also at ", j, ")");
  }
}

void Optimizer::set_lr(double lr) {
  KILN_CHECK(std::isfinite(lr) && lr >= 0.0, "optimizer: invalid learning rate ", lr);
  lr_ = lr;
}

int64_t Optimizer::param_step(size_t i) const {
  KILN_CHECK(i < state_.size(), "optimizer: parameter index ", i, " out of range (", state_.size(), " parameters)");
  return state_[i].step;
}

// Gathers the parameters with a gradient (checking all of them before anything changes), groups them by
// (device, dtype) in order of first appearance, and lets the optimizer update each group in one call.
void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<std::vector<Entry>> groups;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& param = params_[i];
    Tensor grad = param.grad();
    if (!grad.defined()) continue;
    KILN_CHECK(grad.shape() == param.shape(), "optimizer: gradient of parameter ", i, " has shape ",
               shape_str(grad.shape()), ", parameter has ", shape_str(param.shape()));
    KILN_CHECK(grad.device() == param.device(), "optimizer: gradient of parameter ", i, " is on ",
               grad.device().str(), ", the parameter on ", param.device().str());
    KILN_CHECK(param.is_contiguous(), "optimizer: parameter ", i, " (shape ", shape_str(param.shape()),
               ") is not contiguous; the fused update needs contiguous parameters");
    if (grad.dtype() != param.dtype()) grad = grad.to(param.dtype());
    grad = grad.contiguous();
    Entry entry{param, grad, &state_[i]};
    auto same_group = [&](const std::vector<Entry>& g) {
      return g.front().param.device() == param.device() && g.front().param.dtype() == param.dtype();
    };
    auto group = std::find_if(groups.begin(), groups.end(), same_group);
    if (group == groups.end())
      groups.push_back({entry});
    else
      group->push_back(entry);
  }
  GraphCapture* capture = GraphCapture::current();
  if (capture != nullptr && !groups.empty() && groups.front().front().param.device() == capture->device()) {
    capture_step(groups);
    return;
  }
  for (auto& group : groups)
    for (Entry& e : group) ++e.state->step;
  for (auto& group : groups) {
    const Device device = group.front().param.device();
    Tensor scalars;
    if (scalars_in_memory_) {
      const std::vector<double> values = step_scalars(group);
      scalars = empty({int64_t(values.size())}, {.dtype = DType::Float64, .device = device});
      write_scalars(scalars, values);
    }
    update_group(device, group.front().param.dtype(), group,
                 scalars.defined() ? static_cast<const double*>(scalars.data()) : nullptr);
    // The kernels wrote through raw pointers: tell autograd these tensors changed (as add_ would).
    for (Entry& e : group) {
      e.param.storage()->bump_version();
      for (auto& [name, t] : e.state->buffers) t.storage()->bump_version();
    }
  }
  ++step_count_;
}

// The step inside a CUDA-graph capture: the kernels are recorded reading their scalars from device memory,
// and the host part of the step (step counts, the scalars from the lr of that moment) becomes a hook that
// runs before every replay. Nothing on the host changes now: the capture itself is not a step.
void Optimizer::capture_step(std::vector<std::vector<Entry>>& groups) {
  GraphCapture& capture = *GraphCapture::current();
  for (auto& group : groups) {
    const Device device = group.front().param.device();
    KILN_CHECK(device == capture.device(), "optimizer: a captured step updates parameters on ", device.str(),
               " while the graph is captured on ", capture.device().str());
    for (const Entry& e : group)
      KILN_CHECK(e.state->step > 0, "optimizer: a parameter gets its first update inside a CUDA-graph capture; "
                                    "run at least one step without the graph first (its state is created then)");
  }
  std::vector<Tensor> scalars;
  for (auto& group : groups) {
    // The state of a step that counts: its step is one more than now when the hook runs.
    for (Entry& e : group) ++e.state->step;
    const std::vector<double> layout = step_scalars(group);
    for (Entry& e : group) --e.state->step;
    Tensor t = empty({int64_t(layout.size())}, {.dtype = DType::Float64, .device = group.front().param.device()});
    capture.keep_alive(t);
    update_group(group.front().param.device(), group.front().param.dtype(), group, static_cast<const double*>(t.data()));
    scalars.push_back(t);
  }
  // The hook finds each parameter's state by index (state_ is replaced when a state is loaded; the graph is
  // then dropped by its owner, CapturedStep::reset, but an index never dangles).
  std::vector<std::vector<size_t>> indices;
  for (const auto& group : groups) {
    indices.emplace_back();
    for (const Entry& e : group) indices.back().push_back(size_t(e.state - state_.data()));
  }
  capture.before_replay([this, groups, indices, scalars]() mutable {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t k = 0; k < groups[g].size(); ++k) {
        groups[g][k].state = &state_.at(indices[g][k]);
        ++groups[g][k].state->step;
      }
      write_scalars(scalars[g], step_scalars(groups[g]));
    }
    ++step_count_;
  });
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.set_grad(Tensor());
}

Tensor* Optimizer::ParamState::find(const std::string& name) {
  for (auto& [n, t] : buffers)
    if (n == name) return &t;
  return nullptr;
}

Tensor Optimizer::buffer(ParamState& state, const std::string& name, const Tensor& param) {
  if (Tensor* t = state.find(name)) {
    if (t->device() != param.device() || t->dtype() != param.dtype() || !t->is_contiguous()) {
      Tensor moved = empty_like(param);
      copy_data(moved, *t);
      *t = moved;
    }
    return *t;
  }
  Tensor t = zeros_like(param);
  state.buffers.emplace_back(name, t);
  return t;  // a handle: later emplace_backs may move the vector's elements
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  out.emplace_back("lr", f64_scalar(lr_));
  out.emplace_back("step_count", int64_scalar(step_count_));
  for (size_t i = 0; i < state_.size(); ++i) {
    const std::string prefix = "param." + std::to_string(i) + ".";
    if (state_[i].step > 0) out.emplace_back(prefix + "step", int64_scalar(state_[i].step));
    for (const auto& [name, t] : state_[i].buffers) out.emplace_back(prefix + name, t);
  }
  return out;
}

// The state comes from a file that may be damaged or edited: every entry is checked, and so is that the
// state is complete (a parameter that was updated has every buffer this optimizer keeps), before
// anything of this optimizer changes.
void Optimizer::load_state_tensors(const NamedTensors& state) {
  std::vector<ParamState> loaded(params_.size());
  std::vector<bool> has_step(params_.size(), false);
  std::optional<double> lr;
  std::optional<int64_t> step_count;
  std::set<std::string> seen;
  const std::vector<std::string> known = buffer_names();
  for (const auto& [name, t] : state) {
    KILN_CHECK(seen.insert(name).second, "load_state_tensors: '", printable(name), "' appears twice");
    if (name == "lr") {
      lr = saved_real(t, name);
      KILN_CHECK(*lr >= 0.0, "load_state_tensors: 'lr' is ", *lr, ", a negative learning rate");
      continue;
    }
    if (name == "step_count") {
      step_count = saved_count(t, name);
      continue;
    }
    // "param.<i>.<buffer>"
    KILN_CHECK(name.rfind("param.", 0) == 0, "load_state_tensors: unknown state '", printable(name), "'");
    size_t dot = name.find('.', 6);
    KILN_CHECK(dot != std::string::npos && dot > 6, "load_state_tensors: unknown state '", printable(name), "'");
    const size_t i = saved_index(name.substr(6, dot - 6), name, params_.size(), "parameter");
    const std::string buf = name.substr(dot + 1);
    if (buf == "step") {
      loaded[i].step = saved_count(t, name);
      has_step[i] = true;
      continue;
    }
    KILN_CHECK(std::find(known.begin(), known.end(), buf) != known.end(), "load_state_tensors: unknown state '",
               printable(name), "' for this optimizer");
    KILN_CHECK(t.defined() && t.shape() == params_[i].shape(), "load_state_tensors: '", name, "' has shape ",
               t.defined() ? shape_str(t.shape()) : std::string("(undefined)"), ", parameter ", i, " has ",
               shape_str(params_[i].shape()));
    Tensor copy = empty_like(params_[i]);
    {
      NoGradGuard no_grad;
      copy.copy_(t);
    }
    loaded[i].buffers.emplace_back(buf, copy);
  }
  // What a complete state holds: state_tensors() always writes "lr" and "step_count", and a parameter's
  // step with the buffers every update creates (none for a parameter never updated).
  KILN_CHECK(lr.has_value(), "load_state_tensors: the state lacks 'lr'");
  KILN_CHECK(step_count.has_value(), "load_state_tensors: the state lacks 'step_count'");
  const std::vector<std::string> required = required_buffer_names();
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string prefix = "param." + std::to_string(i) + ".";
    KILN_CHECK(loaded[i].step <= *step_count, "load_state_tensors: '", prefix, "step' is ", loaded[i].step,
               ", more than the optimizer's 'step_count' ", *step_count);
    if (loaded[i].step == 0) {
      KILN_CHECK(loaded[i].buffers.empty(), "load_state_tensors: the state has '", prefix, loaded[i].buffers[0].first,
                 "' but ", has_step[i] ? "'" + prefix + "step' is 0" : "lacks '" + prefix + "step'");
      continue;
    }
    for (const std::string& buf : required)
      KILN_CHECK(loaded[i].find(buf) != nullptr, "load_state_tensors: the state lacks '", prefix, buf,
                 "' (parameter ", i, " was updated ", loaded[i].step, " times)");
  }
  set_lr(*lr);
  state_ = std::move(loaded);
  step_count_ = *step_count;
}

// ---------------------------------------------------------------- SGD

SGD::SGD(std::vector<Tensor> params, double lr, SGDOptions options) : Optimizer(std::move(params), lr), options_(options) {
  KILN_CHECK(options.momentum >= 0.0, "SGD: invalid momentum ", options.momentum);
  KILN_CHECK(options.weight_decay >= 0.0, "SGD: invalid weight_decay ", options.weight_decay);
  KILN_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
             "SGD: nesterov momentum requires a momentum and zero dampening");
}

// All parameters of the group in one kernel call; a parameter without a momentum buffer yet gets one,
// which the kernel sets to g (PyTorch's first-step clone) instead of μ·b + (1 − dampening)·g.
std::vector<double> SGD::step_scalars(const std::vector<Entry>&) const {
  return {sgd_lr_term({lr(), options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov, nullptr})};
}

void SGD::update_group(Device device, DType dtype, const std::vector<Entry>& entries, const double* step_scalars) {
  const SgdHyperparams hyper{lr(), options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov,
                             step_scalars};
  std::vector<SgdTensor> tensors;
  tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    SgdTensor t{e.param.data(), e.grad.data(), nullptr, e.param.numel(), false};
    if (options_.momentum != 0.0) {
      t.first_step = e.state->find("momentum_buffer") == nullptr;
      t.momentum_buffer = buffer(*e.state, "momentum_buffer", e.param).data();
    }
    tensors.push_back(t);
  }
  KILN_DEVICE_CALL(device, "SGD.step", sgd_step, dtype, tensors, hyper);
}

// ---------------------------------------------------------------- Adam, AdamW

Adam::Adam(std::vector<Tensor> params, double lr, AdamOptions options) : Adam(std::move(params), lr, options, false) {}

Adam::Adam(std::vector<Tensor> params, double lr, AdamOptions options, bool decoupled)
    : Optimizer(std::move(params), lr), options_(options), decoupled_(decoupled) {
  const char* name = decoupled ? "AdamW" : "Adam";
  KILN_CHECK(options.eps >= 0.0, name, ": invalid eps ", options.eps);
  KILN_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, name, ": invalid beta1 ", options.beta1);
  KILN_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, name, ": invalid beta2 ", options.beta2);
  KILN_CHECK(options.weight_decay >= 0.0, name, ": invalid weight_decay ", options.weight_decay);
}

AdamW::AdamW(std::vector<Tensor> params, double lr, AdamOptions options) : Adam(std::move(params), lr, options, true) {}

// All parameters of the group in one kernel call; the bias corrections are per parameter (its own step
// count), computed here in double.
std::vector<double> Adam::step_scalars(const std::vector<Entry>& entries) const {
  const AdamOptions& o = options_;
  const AdamHyperparams hyper{lr(), o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, decoupled_, nullptr};
  std::vector<double> values{adam_lr_term(hyper)};
  for (const Entry& e : entries) {
    AdamTensor t{};
    set_adam_bias_corrections(t, hyper, e.state->step);
    values.push_back(t.step_size);
    values.push_back(t.bias_correction2_sqrt);
  }
  return values;
}

void Adam::update_group(Device device, DType dtype, const std::vector<Entry>& entries, const double* step_scalars) {
  const AdamOptions& o = options_;
  const AdamHyperparams hyper{lr(), o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, decoupled_, step_scalars};
  std::vector<AdamTensor> tensors;
  tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    AdamTensor t{};
    t.param = e.param.data();
    t.grad = e.grad.data();
    t.exp_avg = buffer(*e.state, "exp_avg", e.param).data();
    t.exp_avg_sq = buffer(*e.state, "exp_avg_sq", e.param).data();
    t.max_exp_avg_sq = o.amsgrad ? buffer(*e.state, "max_exp_avg_sq", e.param).data() : nullptr;
    t.numel = e.param.numel();
    set_adam_bias_corrections(t, hyper, e.state->step);
    tensors.push_back(t);
  }
  KILN_DEVICE_CALL(device, decoupled_ ? "AdamW.step" : "Adam.step", adam_step, dtype, tensors, hyper);
}

}  // namespace kiln
