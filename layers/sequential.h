// Sequential: a chain of single-input modules applied in order; children are named "0", "1", ...
// as in torch.nn.Sequential, so their parameters are "0.weight", "2.bias", ...
#pragma once
#include <initializer_list>
#include <memory>
#include <vector>

#include "layers/module.h"

namespace kiln {

class Sequential : public UnaryModule {
 public:
  Sequential() : UnaryModule("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules);
  void push_back(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<UnaryModule>& operator[](size_t index) const;

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// make_sequential(std::make_shared<Linear>(4, 3), std::make_shared<ReLU>()): a shared Sequential, for
// registering as a child module (modules are not copyable, so Sequential{...} cannot be passed by value).
template <class... Modules>
std::shared_ptr<Sequential> make_sequential(std::shared_ptr<Modules>... modules) {
  return std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<UnaryModule>>{std::move(modules)...});
}

}  // namespace kiln
