#include "core/autograd/node.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {
namespace {

// The node that ends every path into a leaf: it adds the arriving gradient into leaf.grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node(OpId::Count), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor& g = grads[0];
    if (!g.defined()) return {};
    Tensor& slot = leaf_->grad;
    // A fresh tensor, never an alias of a gradient that flows elsewhere in the graph.
    slot = slot.defined() ? add(slot, g) : g.clone();
    return {};
  }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// A leaf's one AccumulateGrad node while it lives, shared by every op that uses the leaf, so that the engine
// sums all uses in one buffer in place and adds into leaf.grad once (an LSTM uses its weights once per step).
// Keyed by the leaf's impl: a live node holds its leaf, so an address found with a live node is that leaf.
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  static std::mutex mutex;
  static std::unordered_map<const TensorImpl*, std::weak_ptr<Node>> accumulators;
  static size_t prune_at = 1024;
  std::lock_guard<std::mutex> lock(mutex);
  std::weak_ptr<Node>& entry = accumulators[leaf.impl()];
  std::shared_ptr<Node> node = entry.lock();
  if (!node) {
    node = std::make_shared<AccumulateGrad>(leaf.impl_ptr());
    entry = node;
  }
  if (accumulators.size() >= prune_at) {  // forget leaves whose graphs are gone
    std::erase_if(accumulators, [](const auto& kv) { return kv.second.expired(); });
    prune_at = std::max<size_t>(1024, 2 * accumulators.size());
  }
  return node;
}

Edge edge_for(const Tensor& input) {
  if (!input.defined() || !input.requires_grad()) return {};
  if (input.grad_fn()) return {input.grad_fn(), input.output_nr()};
  return {grad_accumulator(input), 0};
}

}  // namespace

size_t Node::save(const Tensor& t) {
  if (!t.defined()) {
    saved_.push_back({});
    return saved_.size() - 1;
  }
  saved_.push_back({t.detach(), t.storage()->version()});
  return saved_.size() - 1;
}

Tensor Node::saved(size_t slot) const {
  KILN_CHECK(!released_, "backward through '", name(),
             "' a second time: its saved tensors were already freed. Call backward(gradient, retain_graph=true) "
             "the first time if you need to run backward twice");
  const Saved& s = saved_.at(slot);
  if (s.data.defined()) {
    uint64_t now = s.data.storage()->version();
    KILN_CHECK(now == s.version, "a tensor of shape ", shape_str(s.data.shape()), " saved for the backward of '", name(),
               "' was modified by an in-place operation after it was saved (version ", s.version, ", now ", now,
               "); use an out-of-place op or clone() the tensor first");
  }
  return s.data;
}

Tensor Node::grad_or_zeros(const std::vector<Tensor>& grads, size_t i) const {
  if (grads[i].defined()) return grads[i];
  const InputMeta& any = input_meta_.empty() ? InputMeta{} : input_meta_[0];
  return zeros(output_shapes_[i], {.dtype = any.dtype, .device = any.device});
}

void Node::release_saved() {
  saved_.clear();
  released_ = true;
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record_op(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
               std::initializer_list<Tensor*> outputs) {
  std::vector<Tensor> in, out;
  for (const Tensor* t : inputs) in.push_back(t ? *t : Tensor());
  for (Tensor* t : outputs) out.push_back(*t);  // handles: the impls are shared, so outputs see the history
  record_op_list(node, in, out);
}

void record_op_list(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  for (const Tensor& in : inputs) {
    node->next_edges_.push_back(edge_for(in));
    node->input_meta_.push_back(in.defined() ? InputMeta{in.shape(), in.dtype(), in.device()} : InputMeta{});
  }
  node->num_outputs_ = uint32_t(outputs.size());
  if (anomaly_mode_enabled()) node->forward_call_stack_ = capture_call_stack();
  uint32_t i = 0;
  for (Tensor& out : outputs) {
    node->output_shapes_.push_back(out.shape());
    TensorImpl* impl = out.impl();
    impl->requires_grad = true;
    impl->grad_fn = node;
    impl->output_nr = i++;
  }
}

}  // namespace kiln
