// The backward engine. It finds every node reachable from the roots, counts how many edges point
// at each (its dependencies), and runs a node only once all of its output gradients have arrived,
// summing gradients that reach the same output along different paths. Each output's gradient is one
// buffer: once the engine has allocated it itself, later gradients are added into it in place, and views
// that cover part of their input (select, slice) add their gradient into their region of it.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace kiln {

void visit_graph(const Tensor& t, void (*visit)(const Node&, void*), void* context) {
  if (!t.grad_fn()) return;
  std::unordered_set<const Node*> seen{t.grad_fn().get()};
  std::vector<const Node*> stack{t.grad_fn().get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    visit(*n, context);
    for (const Edge& e : n->next_edges())
      if (e.valid() && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
}

namespace {

void check_input_gradients(const Node& node, const std::vector<Tensor>& grads) {
  KILN_CHECK(grads.size() == node.next_edges().size(), "internal error: backward of '", node.name(), "' returned ",
             grads.size(), " gradients for ", node.next_edges().size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!node.next_edges()[i].valid() || !grads[i].defined()) continue;
    const InputMeta& m = node.input_meta()[i];
    KILN_CHECK(grads[i].shape() == m.shape, "internal error: backward of '", node.name(), "' returned a gradient of shape ",
               shape_str(grads[i].shape()), " for input ", i, " of shape ", shape_str(m.shape));
    KILN_CHECK(grads[i].dtype() == m.dtype && grads[i].device() == m.device, "internal error: backward of '", node.name(),
               "' returned a ", dtype_name(grads[i].dtype()), " gradient on ", grads[i].device().str(), " for input ", i,
               " (", dtype_name(m.dtype), " on ", m.device.str(), ")");
  }
}

bool in_place_view_gradients_on = true;

// The gradient arrived so far at one output of a node. `owned`: the engine allocated the tensor itself, so
// it is contiguous and nothing else refers to it; further gradients are added into it in place. A gradient
// stored as it arrived may be shared (a backward may hand one tensor to several inputs) or a broadcast view,
// so it is copied into an owned buffer before anything is added into it.
struct GradSlot {
  Tensor grad;
  bool owned = false;
};

// dst += src, in place, on dst's device. dst: same shape and dtype as src.
void add_into(const Tensor& dst, const Tensor& src) {
  if (!dst.is_contiguous()) {  // a strided region (a slice along an inner dim): through a temporary
    copy_data(dst, add(dst, src));
    return;
  }
  // The elementwise kernels write y[i] from a[i] and b[i] at the same i, so y may be a itself.
  const Strides dst_strides = dst.strides(), src_strides = broadcast_strides(src.shape(), src.strides(), dst.shape());
  KILN_DEVICE_CALL(dst.device(), "add", binary_forward, BinaryOp::Add, dst.dtype(), dst.shape(), dst.data(),
                   dst.data(), dst_strides.data(), src.data(), src_strides.data());
}

// Makes slot's gradient an owned buffer of `meta`'s shape: zeros when none arrived yet, else a copy.
void own(GradSlot& slot, const InputMeta& meta) {
  if (slot.owned) return;
  Tensor buffer = empty(meta.shape, {.dtype = meta.dtype, .device = meta.device});
  if (slot.grad.defined()) copy_data(buffer, slot.grad);
  else fill_data(buffer, 0.0);
  slot = {buffer, true};
}

// Adds a gradient of the whole output into the slot.
void accumulate(GradSlot& slot, const Tensor& g) {
  if (!slot.grad.defined()) {
    slot.grad = g;  // kept as it is: most outputs get one gradient, and copying it would cost a pass
  } else if (slot.owned) {
    add_into(slot.grad, g);
  } else {
    slot = {add(slot.grad, g), true};  // a fresh contiguous tensor
  }
}

// Adds the gradient of a view (`node` covers part of its input) into its region of the input's slot.
void accumulate_region(GradSlot& slot, const Node& node, const Tensor& g) {
  const InputMeta& input = node.input_meta()[0];
  own(slot, input);
  Tensor region = node.input_grad_region(slot.grad);
  KILN_CHECK(region.shape() == g.shape(), "internal error: backward of '", node.name(), "' got a gradient of shape ",
             shape_str(g.shape()), " for a region of shape ", shape_str(region.shape()));
  add_into(region, g);
}

// Anomaly mode: the first backward that turns finite gradients into NaN or infinity is named, with the
// place its forward was called. (x − x is 0 for every finite x and NaN for NaN and ±inf, so one sum
// tells whether a tensor is all finite; one sync per gradient, in anomaly mode only.)
bool all_finite(const Tensor& t) {
  if (!is_floating(t.dtype())) return true;
  return sum(sub(t, t)).item() == 0.0;
}

void check_finite_gradients(const Node& node, const std::vector<Tensor>& grad_outputs,
                            const std::vector<Tensor>& grad_inputs) {
  for (const Tensor& g : grad_outputs)
    if (g.defined() && !all_finite(g)) return;  // it arrived non-finite: an earlier backward is to blame
  for (size_t i = 0; i < grad_inputs.size(); ++i) {
    if (!grad_inputs[i].defined() || all_finite(grad_inputs[i])) continue;
    const bool nan = sum(ne(grad_inputs[i], grad_inputs[i]).to(DType::Float64)).item() > 0.0;
    KILN_FAIL("detect anomaly: the backward of '", node.name(), "' returned ", nan ? "nan" : "inf",
              " in the gradient of its input ", i, " (shape ", shape_str(grad_inputs[i].shape()),
              ") from finite output gradients; its forward was called\n",
              describe_call_stack(node.forward_call_stack()));
  }
}

}  // namespace

void set_in_place_view_gradients(bool on) { in_place_view_gradients_on = on; }
bool in_place_view_gradients() { return in_place_view_gradients_on; }

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;  // gradients are computed without recording a graph of their own
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::vector<GradSlot>> buffers;

  // 1. Count the edges into every reachable node.
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (const Tensor& r : roots)
    if (r.grad_fn() && seen.insert(r.grad_fn().get()).second) stack.push_back(r.grad_fn().get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }

  // 2. Seed the roots' gradients.
  std::vector<std::shared_ptr<Node>> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    KILN_CHECK(r.requires_grad(), "backward: the tensor does not require grad and has no grad_fn "
               "(did you call backward on a result computed under NoGradGuard or from tensors without requires_grad?)");
    if (!r.grad_fn()) {  // a leaf: its gradient is the seed itself
      Tensor& slot = r.impl()->grad;
      slot = slot.defined() ? add(slot, grads[i]) : grads[i].clone();
      continue;
    }
    Node* n = r.grad_fn().get();
    auto& buf = buffers[n];
    buf.resize(n->num_outputs());
    accumulate(buf[r.output_nr()], grads[i]);
  }
  for (const Tensor& r : roots)
    if (r.grad_fn() && dependencies[r.grad_fn().get()] == 0 &&
        std::find_if(ready.begin(), ready.end(), [&](auto& p) { return p == r.grad_fn(); }) == ready.end())
      ready.push_back(r.grad_fn());

  // 3. Run nodes whose gradients are complete; hand their input gradients to the next nodes.
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    std::vector<Tensor> grad_outputs(node->num_outputs());
    if (auto it = buffers.find(node.get()); it != buffers.end()) {
      for (size_t i = 0; i < it->second.size() && i < grad_outputs.size(); ++i)
        grad_outputs[i] = std::move(it->second[i].grad);
      buffers.erase(it);
    }
    const bool check = anomaly_mode_enabled() && node->op() != OpId::Count;
    std::vector<Tensor> arrived;
    if (check) arrived = grad_outputs;  // handles: apply() takes the vector
    // A view that covers part of its input adds its gradient into the input's buffer itself.
    if (node->covers_part_of_input() && in_place_view_gradients_on) {
      const Edge& e = node->next_edges()[0];
      if (!e.valid()) continue;
      if (grad_outputs[0].defined()) {
        auto& buf = buffers[e.node.get()];
        buf.resize(e.node->num_outputs());
        accumulate_region(buf[e.input_nr], *node, grad_outputs[0]);
      }
      if (--dependencies[e.node.get()] == 0) ready.push_back(e.node);
      continue;
    }
    // A node whose saved tensors were freed refuses in saved(); nodes that saved nothing may run again.
    bool any_gradient = false;
    for (const Tensor& g : grad_outputs) any_gradient |= g.defined();
    // A node that no gradient reached passes none on (its inputs' dependencies still count down).
    std::vector<Tensor> grad_inputs =
        any_gradient ? node->apply(std::move(grad_outputs)) : std::vector<Tensor>(node->next_edges().size());
    if (node->op() != OpId::Count) check_input_gradients(*node, grad_inputs);
    if (check) check_finite_gradients(*node, arrived, grad_inputs);
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < grad_inputs.size() && i < node->next_edges().size(); ++i) {
      const Edge& e = node->next_edges()[i];
      if (!e.valid()) continue;
      if (grad_inputs[i].defined()) {
        auto& buf = buffers[e.node.get()];
        buf.resize(e.node->num_outputs());
        accumulate(buf[e.input_nr], grad_inputs[i]);
      }
      if (--dependencies[e.node.get()] == 0) ready.push_back(e.node);
    }
  }
}

}  // namespace kiln
