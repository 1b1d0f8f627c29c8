// The autograd graph: a Node is the backward of one op application. It holds the tensors the
// backward needs (saved with their version, so in-place changes are caught) and one Edge per
// input that requires grad. Ops create nodes through record_op(); the engine (engine.cpp) runs them.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/ops/op_table.h"
#include "core/tensor.h"

namespace kiln {

class Node;

// Where a gradient flows: input `input_nr` of `node`. An empty edge means "no gradient needed".
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// The metadata of an op's input, used to check the gradients a backward returns.
struct InputMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

class Node {
 public:
  explicit Node(OpId op) : op_(op) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  OpId op() const { return op_; }
  const char* name() const { return op_name(op_); }

  // Given the gradient of each output (undefined where an output got none, see grad_or_zeros),
  // returns the gradient of each input, in input order; an undefined Tensor means none.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;

  // Views that cover part of their single input (select, slice, and so narrow, split and chunk) say so here:
  // the engine then never calls their apply(), which builds a zero tensor the size of the input per view,
  // but adds the output's gradient in place into input_grad_region() of one gradient buffer per input.
  // apply() stays the plain reference. (core/autograd/engine.cpp; docs/architecture.md, "View gradients")
  virtual bool covers_part_of_input() const { return false; }
  // The region of `input_grad` (a tensor of the input's shape) that the output is: a view, no autograd.
  virtual Tensor input_grad_region(const Tensor& input_grad) const { return input_grad; }

  // Whether input i needs a gradient (backward may skip the work when not).
  bool needs_input_grad(size_t i) const { return i < next_edges_.size() && next_edges_[i].valid(); }

  const std::vector<Edge>& next_edges() const { return next_edges_; }
  const std::vector<InputMeta>& input_meta() const { return input_meta_; }
  uint32_t num_outputs() const { return num_outputs_; }
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }

  // Frees the saved tensors; a later backward through this node is refused with a clear error.
  void release_saved();
  bool released() const { return released_; }

  // Saves a tensor for backward (before record_op); returns its slot for saved().
  // Tensors are saved detached, so saving an op's own output makes no reference cycle.
  size_t save(const Tensor& t);

  // Where the op's forward was called: the call stack when it was recorded in anomaly mode
  // (core/autograd/anomaly_mode.h), else empty.
  const std::vector<void*>& forward_call_stack() const { return forward_call_stack_; }

 protected:
  // Returns a saved tensor, refusing when the graph was freed or the tensor was modified in place.
  Tensor saved(size_t slot) const;
  // The gradient of output i, or zeros of its shape when none arrived.
  Tensor grad_or_zeros(const std::vector<Tensor>& grads, size_t i) const;

 private:
  friend void record_op(const std::shared_ptr<Node>&, std::initializer_list<const Tensor*>,
                        std::initializer_list<Tensor*>);
  friend void record_op_list(const std::shared_ptr<Node>&, const std::vector<Tensor>&, std::vector<Tensor>&);
  struct Saved {
    Tensor data;
    uint64_t version = 0;
  };
  OpId op_;
  std::vector<Edge> next_edges_;
  std::vector<InputMeta> input_meta_;
  std::vector<Shape> output_shapes_;
  std::vector<Saved> saved_;
  std::vector<void*> forward_call_stack_;
  uint32_t num_outputs_ = 1;
  bool released_ = false;
};

// True when an op applied to these inputs must record a node (grad mode on, some input requires grad).
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Connects `node` to its inputs (edges, metadata) and makes it the grad_fn of its outputs.
// Inputs may be undefined (optional arguments such as a missing bias) and get an empty edge.
void record_op(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
               std::initializer_list<Tensor*> outputs);
void record_op_list(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);

// The engine: runs backward from `roots` seeded with `grads` (same length), accumulating into leaves.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

// Whether the engine adds the gradients of views that cover part of their input in place into one buffer
// per input (on, the default) or runs their apply() (off: the plain reference, for tests that compare).
void set_in_place_view_gradients(bool on);
bool in_place_view_gradients();

// Visits every node reachable from t's grad_fn once (used by the gradient checker's coverage).
void visit_graph(const Tensor& t, void (*visit)(const Node&, void*), void* context);

}  // namespace kiln
