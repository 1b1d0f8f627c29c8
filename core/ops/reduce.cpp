// Reductions over any set of dims, with keepdim. `dims` empty means every dim.
// Backwards expand the output gradient back over the reduced dims (composed from views).
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/ops/reduce_util.h"
#include "core/tensor_data.h"
#include "kernels/cpu/reduce.h"

namespace kiln {

Tensor expand_reduced_grad(const Tensor& dy, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape kept = reduced_shape(input_shape, dims, true);
  Tensor g = keepdim ? dy : reshape(dy, kept);
  return expand(g, input_shape);
}

Tensor reduce_forward(cpu::ReduceKind kind, const char* op, const Tensor& x, const std::vector<int64_t>& dims,
                      bool keepdim) {
  Tensor y = empty(reduced_shape(x.shape(), dims, keepdim), x.options());
  if (!x.device().is_cpu()) throw_no_kernel(op, x.device());
  cpu::reduce(kind, x.dtype(), x.shape(), x.strides().data(), x.data(), dims, y.data());
  return y;
}

namespace {

// ---- sum: y = Σ x over dims ;  dx = dy expanded back over the reduced dims
struct SumNode final : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;
  SumNode() : Node(OpId::sum) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {expand_reduced_grad(g[0], input_shape, dims, keepdim)};
  }
};

// ---- mean: y = (1/n) Σ x over dims ;  dx = dy/n expanded back over the reduced dims
struct MeanNode final : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;
  double count;
  MeanNode() : Node(OpId::mean) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {expand_reduced_grad(mul(g[0], 1.0 / count), input_shape, dims, keepdim)};
  }
};

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_float("sum", "x", x);
  std::vector<int64_t> dims = wrap_dims(dims_in, x.dim(), "sum");
  Tensor y = reduce_forward(cpu::ReduceKind::Sum, "sum", x, dims, keepdim);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SumNode>();
    node->input_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_float("mean", "x", x);
  std::vector<int64_t> dims = wrap_dims(dims_in, x.dim(), "mean");
  double count = 1;
  for (int64_t d : dims) count *= double(x.shape()[d]);
  Tensor y;
  {
    NoGradGuard composite_forward;  // the pieces are not recorded: MeanNode is the one node
    y = mul(reduce_forward(cpu::ReduceKind::Sum, "mean", x, dims, keepdim), 1.0 / count);
  }
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MeanNode>();
    node->input_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->count = count;
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace kiln
