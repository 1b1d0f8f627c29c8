// Elementwise unary ops. The forward and backward math of each is written once, in
// kernels/common/unary_math.h, shared by the CPU reference and the CUDA kernels; the one-line
// formulas are repeated here above each op. One node type serves them all: it saves x and y.
#include <cmath>
#include <limits>

#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace kiln {
namespace {

struct UnaryNode final : Node {
  UnaryOp kind;
  UnaryParams params;
  UnaryNode(OpId id, UnaryOp k, UnaryParams p) : Node(id), kind(k), params(p) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), y = saved(1);
    const Tensor& dy = g[0];
    Tensor dx = empty(x.shape(), x.options());
    KILN_DEVICE_CALL(x.device(), name(), unary_backward, kind, params, x.dtype(), x.shape(), dx.data(), x.data(),
                     x.strides().data(), y.data(), y.strides().data(), dy.data(), dy.strides().data());
    return {dx};
  }
};

Tensor unary(OpId id, UnaryOp kind, const Tensor& x, UnaryParams p = {}) {
  check_float(op_name(id), "x", x);
  Tensor y = empty(x.shape(), x.options());
  KILN_DEVICE_CALL(x.device(), op_name(id), unary_forward, kind, p, x.dtype(), x.shape(), y.data(), x.data(),
                   x.strides().data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<UnaryNode>(id, kind, p);
    node->save(x);
    node->save(y);
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace

// neg: y = −x ;  dx = −dy
Tensor neg(const Tensor& x) { return unary(OpId::neg, UnaryOp::Neg, x); }
// exp: y = eˣ ;  dx = dy·y
Tensor exp(const Tensor& x) { return unary(OpId::exp, UnaryOp::Exp, x); }
// log: y = ln x ;  dx = dy/x
Tensor log(const Tensor& x) { return unary(OpId::log, UnaryOp::Log, x); }
// sqrt: y = √x ;  dx = dy/(2y)
Tensor sqrt(const Tensor& x) { return unary(OpId::sqrt, UnaryOp::Sqrt, x); }
// rsqrt: y = 1/√x ;  dx = −½·dy·y³
Tensor rsqrt(const Tensor& x) { return unary(OpId::rsqrt, UnaryOp::Rsqrt, x); }
// abs: y = |x| ;  dx = dy·sign(x)  (0 at x = 0, like PyTorch)
Tensor abs(const Tensor& x) { return unary(OpId::abs, UnaryOp::Abs, x); }
// tanh: y = tanh x ;  dx = dy·(1 − y²)
Tensor tanh(const Tensor& x) { return unary(OpId::tanh, UnaryOp::Tanh, x); }
// sigmoid: y = 1/(1 + e⁻ˣ) ;  dx = dy·y·(1 − y)
Tensor sigmoid(const Tensor& x) { return unary(OpId::sigmoid, UnaryOp::Sigmoid, x); }
// relu: y = max(x, 0) ;  dx = dy·[x > 0]
Tensor relu(const Tensor& x) { return unary(OpId::relu, UnaryOp::Relu, x); }
// leaky_relu: y = x if x > 0 else a·x ;  dx = dy or a·dy
Tensor leaky_relu(const Tensor& x, double slope) { return unary(OpId::leaky_relu, UnaryOp::LeakyRelu, x, {slope, 0}); }
// elu: y = x if x > 0 else α(eˣ − 1) ;  dx = dy or dy·(y + α)
Tensor elu(const Tensor& x, double alpha) { return unary(OpId::elu, UnaryOp::Elu, x, {alpha, 0}); }
// gelu: y = x·Φ(x) ;  dx = dy·(Φ(x) + x·φ(x))
// gelu_tanh: y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³) ;  dx = dy·(½(1 + tanh u) + ½x·sech²u·u′)
Tensor gelu(const Tensor& x, GeluApproximation approximate) {
  if (approximate == GeluApproximation::Tanh) return unary(OpId::gelu_tanh, UnaryOp::GeluTanh, x);
  return unary(OpId::gelu, UnaryOp::Gelu, x);
}
// silu: y = x·σ(x) ;  dx = dy·σ(x)·(1 + x(1 − σ(x)))
Tensor silu(const Tensor& x) { return unary(OpId::silu, UnaryOp::Silu, x); }
// softplus: y = ln(1 + e^{βx})/β (x itself where βx > threshold) ;  dx = dy·σ(βx)
Tensor softplus(const Tensor& x, double beta, double threshold) {
  KILN_CHECK(beta > 0, "softplus: beta must be positive, got ", beta);
  return unary(OpId::softplus, UnaryOp::Softplus, x, {beta, threshold});
}
// pow_scalar: y = xᵖ ;  dx = dy·p·xᵖ⁻¹
Tensor pow(const Tensor& x, double exponent) { return unary(OpId::pow_scalar, UnaryOp::PowScalar, x, {exponent, 0}); }
Tensor square(const Tensor& x) { return pow(x, 2.0); }
// clamp: y = min(max(x, lo), hi) ;  dx = dy·[lo ≤ x ≤ hi]
Tensor clamp(const Tensor& x, double lo, double hi) {
  KILN_CHECK(!(lo > hi), "clamp: lower bound ", lo, " is above upper bound ", hi);
  return unary(OpId::clamp, UnaryOp::Clamp, x, {lo, hi});
}
Tensor clamp_min(const Tensor& x, double lo) { return clamp(x, lo, std::numeric_limits<double>::infinity()); }
Tensor clamp_max(const Tensor& x, double hi) { return clamp(x, -std::numeric_limits<double>::infinity(), hi); }
// add_scalar: y = x + a ;  dx = dy
Tensor add(const Tensor& x, double value) { return unary(OpId::add_scalar, UnaryOp::AddScalar, x, {value, 0}); }
Tensor sub(const Tensor& x, double value) { return add(x, -value); }
// mul_scalar: y = a·x ;  dx = a·dy
Tensor mul(const Tensor& x, double value) { return unary(OpId::mul_scalar, UnaryOp::MulScalar, x, {value, 0}); }
Tensor div(const Tensor& x, double value) { return mul(x, 1.0 / value); }
// reciprocal: y = 1/x ;  dx = −dy·y²
Tensor reciprocal(const Tensor& x) { return unary(OpId::reciprocal, UnaryOp::Reciprocal, x); }

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(reciprocal(b), a); }

}  // namespace kiln
