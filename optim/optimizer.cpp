#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

namespace {

Tensor int64_scalar(int64_t v) { return from_vector(std::vector<int64_t>{v}, Shape{}, {.dtype = DType::Int64}); }
Tensor f64_scalar(double v) { return from_vector(std::vector<double>{v}, Shape{}, {.dtype = DType::Float64}); }

int64_t scalar_int(const Tensor& t, const std::string& name) {
  KILN_CHECK(t.defined() && t.numel() == 1, "load_state_tensors: '", name, "' must be a one-element tensor");
  double v = t.item();
  KILN_CHECK(v >= 0 && v == std::floor(v), "load_state_tensors: '", name, "' must be a non-negative integer, got ", v);
  return static_cast<int64_t>(v);
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

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& grad = params_[i].grad();
    if (!grad.defined()) continue;
    KILN_CHECK(grad.shape() == params_[i].shape(), "optimizer: gradient of parameter ", i, " has shape ",
               shape_str(grad.shape()), ", parameter has ", shape_str(params_[i].shape()));
    ++state_[i].step;
    update(params_[i], grad, state_[i]);
  }
  ++step_count_;
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
  if (Tensor* t = state.find(name)) return *t;
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

void Optimizer::load_state_tensors(const NamedTensors& state) {
  std::vector<ParamState> loaded(params_.size());
  double lr = lr_;
  int64_t step_count = 0;
  const std::vector<std::string> known = buffer_names();
  for (const auto& [name, t] : state) {
    if (name == "lr") {
      KILN_CHECK(t.defined() && t.numel() == 1, "load_state_tensors: 'lr' must be a one-element tensor");
      lr = t.item();
      continue;
    }
    if (name == "step_count") {
      step_count = scalar_int(t, name);
      continue;
    }
    // "param.<i>.<buffer>"
    KILN_CHECK(name.rfind("param.", 0) == 0, "load_state_tensors: unknown state '", name, "'");
    size_t dot = name.find('.', 6);
    KILN_CHECK(dot != std::string::npos && dot > 6, "load_state_tensors: unknown state '", name, "'");
    const std::string index_text = name.substr(6, dot - 6);
    KILN_CHECK(std::all_of(index_text.begin(), index_text.end(), [](char c) { return c >= '0' && c <= '9'; }),
               "load_state_tensors: unknown state '", name, "'");
    size_t i = std::stoul(index_text);
    KILN_CHECK(i < params_.size(), "load_state_tensors: '", name, "' names parameter ", i, " but there are ",
               params_.size(), " parameters");
    const std::string buf = name.substr(dot + 1);
    if (buf == "step") {
      loaded[i].step = scalar_int(t, name);
      continue;
    }
    KILN_CHECK(std::find(known.begin(), known.end(), buf) != known.end(), "load_state_tensors: unknown state '",
               name, "' for this optimizer");
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
  set_lr(lr);
  state_ = std::move(loaded);
  step_count_ = step_count;
}

// ---------------------------------------------------------------- SGD

SGD::SGD(std::vector<Tensor> params, double lr, SGDOptions options) : Optimizer(std::move(params), lr), options_(options) {
  KILN_CHECK(options.momentum >= 0.0, "SGD: invalid momentum ", options.momentum);
  KILN_CHECK(options.weight_decay >= 0.0, "SGD: invalid weight_decay ", options.weight_decay);
  KILN_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
             "SGD: nesterov momentum requires a momentum and zero dampening");
}

// g ← g + wd·p ;  b ← g (first step) or μ·b + (1−dampening)·g ;  g ← g + μ·b (nesterov) or b ;  p ← p − lr·g
void SGD::update(Tensor param, const Tensor& grad, ParamState& state) {
  Tensor g = grad;
  if (options_.weight_decay != 0.0) g = add(g, mul(param, options_.weight_decay));
  if (options_.momentum != 0.0) {
    Tensor* buf = state.find("momentum_buffer");
    if (buf == nullptr) {
      state.buffers.emplace_back("momentum_buffer", clone(g));  // PyTorch: buf = g on the first step
      buf = &state.buffers.back().second;
    } else {
      buf->mul_(options_.momentum).add_(g, 1.0 - options_.dampening);
    }
    g = options_.nesterov ? add(g, mul(*buf, options_.momentum)) : *buf;
  }
  param.add_(g, -lr());
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

// (AdamW: p ← p·(1 − lr·wd); Adam: g ← g + wd·p) ;  m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g² ;
// v̂ ← max(v̂, v) (amsgrad) ;  denom = √v / √(1−β2ᵗ) + eps ;  p ← p − lr/(1−β1ᵗ) · m/denom
void Adam::update(Tensor param, const Tensor& grad, ParamState& state) {
  const AdamOptions& o = options_;
  Tensor g = grad;
  if (o.weight_decay != 0.0) {
    if (decoupled_)
      param.mul_(1.0 - lr() * o.weight_decay);
    else
      g = add(g, mul(param, o.weight_decay));
  }
  Tensor m = buffer(state, "exp_avg", param);
  Tensor v = buffer(state, "exp_avg_sq", param);
  m.mul_(o.beta1).add_(g, 1.0 - o.beta1);
  v.mul_(o.beta2).add_(mul(g, g), 1.0 - o.beta2);
  const double t = static_cast<double>(state.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, t));
  Tensor second = v;
  if (o.amsgrad) {
    Tensor vmax = buffer(state, "max_exp_avg_sq", param);
    vmax.copy_(maximum(vmax, v));
    second = vmax;
  }
  Tensor denom = add(div(sqrt(second), bias_correction2_sqrt), o.eps);
  param.add_(div(m, denom), -lr() / bias_correction1);
}

}  // namespace kiln
