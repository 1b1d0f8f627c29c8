// Module: the base of every layer, as torch.nn.Module: named parameters, buffers and child modules in
// registration order, hierarchical dotted names, state dicts, train/eval, device and dtype moves, a printable
// summary. It knows nothing about any particular layer and never calls a kernel.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  // Parameters are shared by handle with the layer's fields: a copy would alias them, so modules are not copied.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // Registers a trainable tensor (made a leaf that requires grad) and returns the handle the module keeps.
  // An undefined tensor (e.g. no bias) is not registered, as PyTorch's None parameter is not listed.
  Tensor register_parameter(const std::string& name, const Tensor& tensor);
  // Registers state that is saved and moved with the module but not trained (e.g. running statistics).
  Tensor register_buffer(const std::string& name, const Tensor& tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Own entries first, then each child's with "child." prefixed, recursively (PyTorch's order).
  NamedTensors named_parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  int64_t parameter_count() const;  // total number of trainable elements

  // Parameters and buffers of every module, each module's own parameters then its buffers, then its children.
  NamedTensors state_dict() const;
  // Copies values into the registered tensors (no grad). With strict, every name must match; any missing,
  // unexpected or shape-mismatched tensor makes it throw one error listing all of them, before copying anything.
  void load_state_dict(const NamedTensors& state, bool strict = true);
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  virtual void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();  // leaves every parameter's grad undefined
  // Moves (converts) parameters and buffers in place: every handle to them, e.g. a layer's `weight`, sees
  // the new data, and parameters stay leaves that require grad. to(DType) converts floating tensors only.
  Module& to(Device device);
  Module& to(DType dtype);

  // The summary, like PyTorch's repr: "Type(extra_repr)" or nested children one per line.
  std::string str() const;
  virtual std::string extra_repr() const { return ""; }

 protected:
  bool training_ = true;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  void collect(NamedTensors& out, const std::string& prefix, bool params, bool recurse) const;
  void collect_state(NamedTensors& out, const std::string& prefix) const;
  template <class F> void for_each_tensor(F&& f);

  std::string type_name_;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output: the single-input layers and what Sequential chains.
class UnaryModule : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

std::ostream& operator<<(std::ostream& os, const Module& module);

// Helpers that format hyperparameters the way Python prints them (for extra_repr).
namespace repr {
std::string py_float(double value);  // 1e-05, 0.1, 1.0, 20.0
std::string py_bool(bool value);     // True / False
std::string py_tuple(const std::vector<int64_t>& values);  // (3, 3), (8,)
}  // namespace repr

}  // namespace kiln
