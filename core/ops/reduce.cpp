// Reductions over any set of dims, with keepdim. `dims` empty means every dim.
// Backwards expand the output gradient back over the reduced dims (composed from views); the ones
// that need more (amax ties, var, logsumexp) are composed from other ops, max/min along a dim has a kernel.
#include <algorithm>

#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/ops/reduce_util.h"
#include "core/tensor_data.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"

namespace kiln {

Tensor expand_reduced_grad(const Tensor& dy, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape kept = reduced_shape(input_shape, dims, true);
  Tensor g = keepdim ? dy : reshape(dy, kept);
  return expand(g, input_shape);
}

std::vector<int64_t> reduction_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<int64_t> wrapped = wrap_dims(dims, x.dim(), op);
  if (x.dim() == 0) wrapped.clear();  // a 0-d tensor accepts dim 0 / -1 and reduces to itself
  return wrapped;
}

Tensor reduce_forward(cpu::ReduceKind kind, const char* op, const Tensor& x, const std::vector<int64_t>& dims,
                      bool keepdim) {
  Tensor y = empty(reduced_shape(x.shape(), dims, keepdim), x.options());
  KILN_DEVICE_CALL(x.device(), op, reduce, kind, x.dtype(), x.shape(), x.strides().data(), x.data(), dims, y.data());
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
  std::vector<int64_t> dims = reduction_dims(x, dims_in, "sum");
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
  std::vector<int64_t> dims = reduction_dims(x, dims_in, "mean");
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

namespace {

// ---- amax / amin: y = max (min) of x over dims ;  dx = dy·[x = y] / (number of ties), so ties share
// the gradient evenly, like PyTorch. The backward is composed from eq, sum, div and expand.
struct ExtremeNode final : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;
  explicit ExtremeNode(OpId id) : Node(id) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), y = saved(1);
    Shape kept = reduced_shape(input_shape, dims, true);
    Tensor hit = to_dtype(eq(x, expand_reduced_grad(y, input_shape, dims, keepdim)), x.dtype());
    Tensor share = div(reshape(g[0], kept), sum(hit, dims, true));
    return {mul(hit, expand(share, input_shape))};
  }
};

// ---- max_dim / min_dim: (y, i) = max (min) along dim ;  dx = dy at index i, 0 elsewhere
struct ArgExtremeNode final : Node {
  Shape input_shape;
  int64_t dim;
  explicit ArgExtremeNode(OpId id) : Node(id) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor indices = saved(0);
    Tensor dy = contiguous(g[0]);
    Tensor dx = empty(input_shape, dy.options());
    KILN_DEVICE_CALL(dy.device(), name(), arg_reduce_backward, dy.dtype(), input_shape, dim,
                     indices.data_ptr<int64_t>(), dy.data(), dx.data());
    return {dx};
  }
};

// ---- var: y = Σ(x − x̄)²/(n − c) ;  dx = dy·2(x − x̄)/(n − c), composed from mean, sub, mul, expand
// ---- stddev: y = √var ;  dx = dy·(x − x̄)/((n − c)·y), 0 where y = 0 (as PyTorch), composed the same way
struct VarianceNode final : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;
  double divisor;  // max(0, n − correction)
  explicit VarianceNode(OpId id) : Node(id) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0);
    Tensor dy = g[0];
    if (op() == OpId::stddev) {  // d std = d var / (2·std)
      Tensor y = saved(1);
      dy = where(eq(y, 0.0), zeros({}, y.options()), div(dy, mul(y, 2.0)));
    }
    Tensor centered = sub(x, mean(x, dims, true));
    return {mul(centered, expand_reduced_grad(mul(dy, 2.0 / divisor), input_shape, dims, keepdim))};
  }
};

// ---- logsumexp: y = ln Σ eˣ (computed as m + ln Σ e^{x − m}) ;  dx = dy·e^{x − y}, composed from exp, sub, mul
struct LogSumExpNode final : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;
  LogSumExpNode() : Node(OpId::logsumexp) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), y = saved(1);
    Tensor softmax_x = exp(sub(x, expand_reduced_grad(y, input_shape, dims, keepdim)));
    return {mul(softmax_x, expand_reduced_grad(g[0], input_shape, dims, keepdim))};
  }
};

// Refuses to take a max/min over an empty dim (there is no value to return).
void check_nonempty_dims(const char* op, const Tensor& x, const std::vector<int64_t>& dims) {
  for (int64_t d : dims)
    KILN_CHECK(x.shape()[d] > 0, op, ": cannot reduce dim ", d, " of size 0 (input shape ", shape_str(x.shape()),
               "): the result has no value");
}

Tensor extreme(OpId id, cpu::ReduceKind kind, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const char* op = op_name(id);
  check_float(op, "x", x);
  std::vector<int64_t> dims = reduction_dims(x, dims_in, op);
  check_nonempty_dims(op, x, dims);
  Tensor y = reduce_forward(kind, op, x, dims, keepdim);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ExtremeNode>(id);
    node->input_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->save(x);
    node->save(y);
    record_op(node, {&x}, {&y});
  }
  return y;
}

// (values, indices) along one dim; values is undefined when want_values is false.
std::pair<Tensor, Tensor> arg_extreme(OpId id, bool is_max, const Tensor& x, int64_t dim_in, bool keepdim,
                                      bool want_values) {
  const char* op = op_name(id);
  check_float(op, "x", x);
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  if (x.dim() == 0)  // a 0-d tensor is its own max, at index 0 (as in PyTorch): reduce it as [1]
    return arg_extreme(id, is_max, reshape(x, {1}), 0, false, want_values);
  check_nonempty_dims(op, x, {dim});
  Shape out_shape = reduced_shape(x.shape(), {dim}, keepdim);
  Tensor indices = empty(out_shape, {.dtype = DType::Int64, .device = x.device()});
  Tensor values = want_values ? empty(out_shape, x.options()) : Tensor();
  KILN_DEVICE_CALL(x.device(), op, arg_reduce, is_max, x.dtype(), x.shape(), x.strides().data(), x.data(), dim,
                   values.defined() ? values.data() : nullptr, indices.data_ptr<int64_t>());
  if (want_values && any_requires_grad({&x})) {
    auto node = std::make_shared<ArgExtremeNode>(id);
    node->input_shape = x.shape();
    node->dim = dim;
    node->save(indices);
    record_op(node, {&x}, {&values});  // the indices get no gradient and are not outputs of the node
  }
  return {values, indices};
}

Tensor variance(OpId id, const Tensor& x, const std::vector<int64_t>& dims_in, int64_t correction, bool keepdim) {
  const char* op = op_name(id);
  check_float(op, "x", x);
  KILN_CHECK(correction >= 0, op, ": correction must be non-negative, got ", correction);
  std::vector<int64_t> dims = reduction_dims(x, dims_in, op);
  double n = 1;
  for (int64_t d : dims) n *= double(x.shape()[d]);
  Tensor y = empty(reduced_shape(x.shape(), dims, keepdim), x.options());
  KILN_DEVICE_CALL(x.device(), op, variance, x.dtype(), x.shape(), x.strides().data(), x.data(), dims,
                   double(correction), id == OpId::stddev, y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<VarianceNode>(id);
    node->input_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->divisor = std::max(0.0, n - double(correction));
    node->save(x);
    node->save(y);
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(OpId::amax, cpu::ReduceKind::Max, x, dims, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(OpId::amin, cpu::ReduceKind::Min, x, dims, keepdim);
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(OpId::max_dim, true, x, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(OpId::min_dim, false, x, dim, keepdim, true);
}
// argmax / argmin: the index of max (min) along dim, first among ties; no gradient
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(OpId::argmax, true, x, dim, keepdim, false).second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(OpId::argmin, false, x, dim, keepdim, false).second;
}
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  return variance(OpId::var, x, dims, correction, keepdim);
}
Tensor stddev(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  return variance(OpId::stddev, x, dims, correction, keepdim);
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_float("logsumexp", "x", x);
  std::vector<int64_t> dims = reduction_dims(x, dims_in, "logsumexp");
  Tensor y = empty(reduced_shape(x.shape(), dims, keepdim), x.options());
  KILN_DEVICE_CALL(x.device(), "logsumexp", logsumexp, x.dtype(), x.shape(), x.strides().data(), x.data(), dims,
                   y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<LogSumExpNode>();
    node->input_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->save(x);
    node->save(y);
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace kiln
