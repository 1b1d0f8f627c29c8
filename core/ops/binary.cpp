// Elementwise binary ops with NumPy/PyTorch broadcasting, where, and comparisons.
// The math lives in kernels/common/binary_math.h (shared with CUDA). Every backward computes the
// gradient at the broadcast output shape and sums it back to each input's shape (sum_to).
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace kiln {
namespace {

// Float32/float64 operands of one dtype; two int64 operands too for the integer-exact ops (forward only:
// integers never require grad), so counters such as BatchNorm's num_batches_tracked stay on the device.
void check_pair(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  const bool both_int64 = a.defined() && b.defined() && a.dtype() == DType::Int64 && b.dtype() == DType::Int64;
  if (!(both_int64 && binary_supports_int64(kind))) {
    check_float(op, "a", a);
    check_float(op, "b", b);
  }
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()),
             " (convert one with .to(dtype))");
  common_device(op, {&a, &b});
}

struct BinaryNode final : Node {
  BinaryOp kind;
  BinaryNode(OpId id, BinaryOp k) : Node(id), kind(k) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor a = saved(0), b = saved(1);
    const Tensor& dy = g[0];
    const Shape& out = dy.shape();
    Tensor da = needs_input_grad(0) ? empty(out, a.options()) : Tensor();
    Tensor db = needs_input_grad(1) ? empty(out, b.options()) : Tensor();
    Strides as = broadcast_strides(a.shape(), a.strides(), out), bs = broadcast_strides(b.shape(), b.strides(), out);
    KILN_DEVICE_CALL(a.device(), name(), binary_backward, kind, a.dtype(), out, da.defined() ? da.data() : nullptr,
                     db.defined() ? db.data() : nullptr, a.data(), as.data(), b.data(), bs.data(), dy.data(),
                     dy.strides().data());
    return {da.defined() ? sum_to(da, a.shape()) : Tensor(), db.defined() ? sum_to(db, b.shape()) : Tensor()};
  }
};

Tensor binary(OpId id, BinaryOp kind, const Tensor& a, const Tensor& b) {
  const char* op = op_name(id);
  check_pair(op, kind, a, b);
  Shape out = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor y = empty(out, a.options());
  Strides as = broadcast_strides(a.shape(), a.strides(), out), bs = broadcast_strides(b.shape(), b.strides(), out);
  KILN_DEVICE_CALL(a.device(), op, binary_forward, kind, a.dtype(), out, y.data(), a.data(), as.data(), b.data(),
                   bs.data());
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BinaryNode>(id, kind);
    node->save(a);
    node->save(b);
    record_op(node, {&a, &b}, {&y});
  }
  return y;
}

Tensor comparison(OpId id, CompareOp kind, const Tensor& a, const Tensor& b) {
  const char* op = op_name(id);
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  common_device(op, {&a, &b});
  Shape out = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor y = empty(out, {.dtype = DType::Bool, .device = a.device()});
  Strides as = broadcast_strides(a.shape(), a.strides(), out), bs = broadcast_strides(b.shape(), b.strides(), out);
  KILN_DEVICE_CALL(a.device(), op, compare, kind, a.dtype(), out, y.data_ptr<bool>(), a.data(), as.data(), b.data(),
                   bs.data());
  return y;
}

Tensor scalar_like(const Tensor& t, double value) { return full({}, value, t.options()); }

// ---- where: y = cond ? a : b ;  da = cond ? dy : 0 ;  db = cond ? 0 : dy  (then summed to each shape)
struct WhereNode final : Node {
  WhereNode() : Node(OpId::where) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor cond = saved(0), zero = zeros({}, g[0].options());
    const Shape& a_shape = input_meta()[1].shape;
    const Shape& b_shape = input_meta()[2].shape;
    return {Tensor(), needs_input_grad(1) ? sum_to(where(cond, g[0], zero), a_shape) : Tensor(),
            needs_input_grad(2) ? sum_to(where(cond, zero, g[0]), b_shape) : Tensor()};
  }
};

}  // namespace

// add: y = a + b ;  da = dy, db = dy
Tensor add(const Tensor& a, const Tensor& b) { return binary(OpId::add, BinaryOp::Add, a, b); }
// sub: y = a − b ;  da = dy, db = −dy
Tensor sub(const Tensor& a, const Tensor& b) { return binary(OpId::sub, BinaryOp::Sub, a, b); }
// mul: y = a·b ;  da = dy·b, db = dy·a
Tensor mul(const Tensor& a, const Tensor& b) { return binary(OpId::mul, BinaryOp::Mul, a, b); }
// div: y = a/b ;  da = dy/b, db = −dy·a/b²
Tensor div(const Tensor& a, const Tensor& b) { return binary(OpId::div, BinaryOp::Div, a, b); }
// pow: y = aᵇ ;  da = dy·b·aᵇ⁻¹, db = dy·aᵇ·ln a (0 where a = 0 and b ≥ 0; NaN where a < 0, as PyTorch)
Tensor pow(const Tensor& a, const Tensor& b) { return binary(OpId::pow, BinaryOp::Pow, a, b); }
// maximum: y = max(a, b) ;  the larger input gets dy, ties split it evenly (as PyTorch does)
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(OpId::maximum, BinaryOp::Maximum, a, b); }
// minimum: y = min(a, b) ;  the smaller input gets dy, ties split it evenly
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(OpId::minimum, BinaryOp::Minimum, a, b); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  KILN_CHECK(cond.dtype() == DType::Bool, "where: condition must be bool, got ", dtype_name(cond.dtype()),
             " (build it with a comparison such as gt(x, 0))");
  KILN_CHECK(a.dtype() == b.dtype(), "where: dtype mismatch, ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  common_device("where", {&cond, &a, &b});
  Shape out = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor y = empty(out, a.options());
  Strides cs = broadcast_strides(cond.shape(), cond.strides(), out);
  Strides as = broadcast_strides(a.shape(), a.strides(), out), bs = broadcast_strides(b.shape(), b.strides(), out);
  KILN_DEVICE_CALL(a.device(), "where", where, a.dtype(), out, y.data(), cond.data_ptr<bool>(), cs.data(), a.data(),
                   as.data(), b.data(), bs.data());
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<WhereNode>();
    node->save(cond);
    record_op(node, {&cond, &a, &b}, {&y});
  }
  return y;
}

// masked_fill: y = mask ? value : x  (composite: where; the filled places get no gradient)
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  KILN_CHECK(broadcast_shapes(mask.shape(), x.shape(), "masked_fill") == x.shape(), "masked_fill: mask of shape ",
             shape_str(mask.shape()), " does not broadcast to the input's shape ", shape_str(x.shape()));
  return where(mask, scalar_like(x, value), x);
}

Tensor eq(const Tensor& a, const Tensor& b) { return comparison(OpId::eq, CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return comparison(OpId::ne, CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return comparison(OpId::lt, CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return comparison(OpId::le, CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return comparison(OpId::gt, CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return comparison(OpId::ge, CompareOp::Ge, a, b); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_like(a, b)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

}  // namespace kiln
