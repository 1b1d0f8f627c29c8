// Module bookkeeping: registration, hierarchical names, state dicts, train/eval, moves and the summary.
#include "layers/module.h"

#include <charconv>
#include <cmath>
#include <ostream>
#include <set>
#include <sstream>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/printable.h"

namespace kiln {

void Module::check_new_name(const std::string& name, const char* what) const {
  KILN_CHECK(!name.empty(), type_name_, ".register_", what, ": the name is empty");
  KILN_CHECK(name.find('.') == std::string::npos, type_name_, ".register_", what, ": name '", name,
             "' contains '.', which separates module names");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  KILN_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name_, ".register_", what,
             ": name '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, const Tensor& tensor) {
  check_new_name(name, "parameter");
  if (!tensor.defined()) return tensor;
  KILN_CHECK(is_floating(tensor.dtype()), type_name_, ".register_parameter: '", name, "' has dtype ",
             dtype_name(tensor.dtype()), "; parameters must be floating point");
  Tensor p = tensor.is_leaf() ? tensor : tensor.detach();
  p.requires_grad_(true);
  parameters_.emplace_back(name, p);
  return p;
}

Tensor Module::register_buffer(const std::string& name, const Tensor& tensor) {
  check_new_name(name, "buffer");
  if (!tensor.defined()) return tensor;
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  KILN_CHECK(module != nullptr, type_name_, ".register_module: module '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(NamedTensors& out, const std::string& prefix, bool params, bool recurse) const {
  for (const auto& [name, t] : params ? parameters_ : buffers_) out.emplace_back(prefix + name, t);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(out, prefix + name + ".", params, true);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect(out, "", true, recurse);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect(out, "", false, recurse);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters(recurse)) out.push_back(entry.second);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_buffers(recurse)) out.push_back(entry.second);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::collect_state(NamedTensors& out, const std::string& prefix) const {
  for (const auto& [name, t] : parameters_) out.emplace_back(prefix + name, t);
  for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect_state(out, prefix + name + ".");
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect_state(out, "");
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  load_state_dict(NamedTensors(state.begin(), state.end()), strict);
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors own = state_dict();
  std::map<std::string, Tensor> given;
  for (const auto& [name, t] : state) {
    KILN_CHECK(t.defined(), "load_state_dict: tensor '", name, "' is undefined");
    given[name] = t;
  }
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, t] : own) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      mismatched.push_back(name + " (checkpoint " + shape_str(it->second.shape()) + ", module " +
                           shape_str(t.shape()) + ")");
    }
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) unexpected.push_back(name);
  bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::ostringstream msg;
    msg << "load_state_dict: the state does not match " << type_name_ << ":";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      msg << "\n  " << what << ":";
      for (const auto& n : names) msg << " " << printable(n) << ";";  // names may come from a file
    };
    if (strict) list("missing keys", missing);
    if (strict) list("unexpected keys", unexpected);
    list("shape mismatches", mismatched);
    KILN_FAIL(msg.str());
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : own) {
    auto it = given.find(name);
    if (it != given.end()) t.copy_(it->second);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.set_grad(Tensor());
}

template <class F>
void Module::for_each_tensor(F&& f) {
  for (auto& entry : parameters_) f(entry.second);
  for (auto& entry : buffers_) f(entry.second);
  for (auto& entry : children_) entry.second->for_each_tensor(f);
}

namespace {
// Points every handle of `slot` at `moved`'s data, as PyTorch's param.data = ...: the layer's own handle
// (e.g. Linear::weight) is the same TensorImpl, so it sees the move without being told.
void replace_data(const Tensor& slot, const Tensor& moved) {
  TensorImpl* impl = slot.impl();
  const TensorImpl* src = moved.impl();
  impl->storage = src->storage;
  impl->shape = src->shape;
  impl->strides = src->strides;
  impl->offset = src->offset;
  impl->dtype = src->dtype;
}
}  // namespace

Module& Module::to(Device device) {
  NoGradGuard no_grad;
  for_each_tensor([&](Tensor& t) {
    if (t.device() == device) return;
    Tensor grad = t.grad();
    replace_data(t, t.detach().to(device));
    if (grad.defined()) t.set_grad(grad.to(device));
  });
  return *this;
}

Module& Module::to(DType dtype) {
  KILN_CHECK(is_floating(dtype), "Module.to: dtype ", dtype_name(dtype), " is not floating point");
  NoGradGuard no_grad;
  for_each_tensor([&](Tensor& t) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype) return;  // e.g. num_batches_tracked stays int64
    Tensor grad = t.grad();
    replace_data(t, t.detach().to(dtype));
    if (grad.defined()) t.set_grad(grad.to(dtype));
  });
  return *this;
}

std::string Module::str() const {
  std::string out = type_name_ + "(" + extra_repr();
  if (children_.empty()) return out + ")";
  out += "\n";
  for (const auto& [name, child] : children_) {
    std::string text = child->str();
    std::string indented;
    for (char c : text) {  // nested lines indented by two more spaces
      indented += c;
      if (c == '\n') indented += "  ";
    }
    out += "  (" + name + "): " + indented + "\n";
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.str(); }

namespace repr {

std::string py_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  // Python's repr: the shortest round-trip digits, scientific when the exponent is < -4 or >= 16.
  auto sci = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  int exponent = std::stoi(s.substr(s.find('e') + 1));
  if (exponent < -4 || exponent >= 16) {
    // "1e-05" keeps two exponent digits, as Python does; to_chars already writes at least two.
    return s;
  }
  auto fixed = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  std::string f(buf, fixed.ptr);
  if (f.find('.') == std::string::npos) f += ".0";
  return f;
}

std::string py_bool(bool value) { return value ? "True" : "False"; }

std::string py_tuple(const std::vector<int64_t>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + (values.size() == 1 ? ",)" : ")");
}

}  // namespace repr

}  // namespace kiln
