// The math of every elementwise unary op, forward and backward side by side, shared by the CPU
// reference kernels and the CUDA kernels. Backward gets x, y = f(x) and dy and returns dx.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln {

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Tanh, Sigmoid, Relu, LeakyRelu, Elu, Gelu, GeluTanh, Silu, Softplus,
  PowScalar, Clamp, AddScalar, MulScalar, Reciprocal
};

// The scalar parameters of the parameterized ops (slope, alpha, beta/threshold, exponent, bounds, value).
struct UnaryParams {
  double a = 0;
  double b = 0;
};

template <class T>
KILN_HD T sigmoid_of(T x) {
  return x >= T(0) ? T(1) / (T(1) + ::exp(-x)) : ::exp(x) / (T(1) + ::exp(x));
}

template <UnaryOp OP, class T>
KILN_HD T unary_forward(T x, UnaryParams p) {
  constexpr T kSqrt1_2 = T(0.70710678118654752440);
  constexpr T kSqrt2OverPi = T(0.79788456080286535588);
  if constexpr (OP == UnaryOp::Neg) return -x;                            // y = −x
  else if constexpr (OP == UnaryOp::Exp) return ::exp(x);                 // y = eˣ
  else if constexpr (OP == UnaryOp::Log) return ::log(x);                 // y = ln x
  else if constexpr (OP == UnaryOp::Sqrt) return ::sqrt(x);               // y = √x
  else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / ::sqrt(x);       // y = 1/√x
  else if constexpr (OP == UnaryOp::Abs) return x < T(0) ? -x : x;        // y = |x|
  else if constexpr (OP == UnaryOp::Tanh) return ::tanh(x);               // y = tanh x
  else if constexpr (OP == UnaryOp::Sigmoid) return sigmoid_of(x);        // y = 1/(1+e⁻ˣ)
  else if constexpr (OP == UnaryOp::Relu) return x > T(0) ? x : T(0);     // y = max(x, 0)
  else if constexpr (OP == UnaryOp::LeakyRelu) return x > T(0) ? x : T(p.a) * x;           // y = x or a·x
  else if constexpr (OP == UnaryOp::Elu) return x > T(0) ? x : T(p.a) * (::exp(x) - T(1)); // y = x or α(eˣ−1)
  else if constexpr (OP == UnaryOp::Gelu) return T(0.5) * x * (T(1) + ::erf(x * kSqrt1_2)); // y = x·Φ(x)
  else if constexpr (OP == UnaryOp::GeluTanh)  // y = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
    return T(0.5) * x * (T(1) + ::tanh(kSqrt2OverPi * (x + T(0.044715) * x * x * x)));
  else if constexpr (OP == UnaryOp::Silu) return x * sigmoid_of(x);       // y = x·σ(x)
  else if constexpr (OP == UnaryOp::Softplus) {  // y = ln(1 + e^{βx})/β, or x where βx > threshold
    T bx = T(p.a) * x;
    return bx > T(p.b) ? x : ::log1p(::exp(bx)) / T(p.a);
  } else if constexpr (OP == UnaryOp::PowScalar) return ::pow(x, T(p.a));  // y = xᵖ
  else if constexpr (OP == UnaryOp::Clamp) return x < T(p.a) ? T(p.a) : (x > T(p.b) ? T(p.b) : x);  // y = min(max(x, lo), hi)
  else if constexpr (OP == UnaryOp::AddScalar) return x + T(p.a);         // y = x + a
  else if constexpr (OP == UnaryOp::MulScalar) return x * T(p.a);         // y = a·x
  else if constexpr (OP == UnaryOp::Reciprocal) return T(1) / x;          // y = 1/x
}

template <UnaryOp OP, class T>
KILN_HD T unary_backward(T x, T y, T dy, UnaryParams p) {
  constexpr T kSqrt1_2 = T(0.70710678118654752440);
  constexpr T kInvSqrt2Pi = T(0.39894228040143267794);
  constexpr T kSqrt2OverPi = T(0.79788456080286535588);
  if constexpr (OP == UnaryOp::Neg) return -dy;                           // dx = −dy
  else if constexpr (OP == UnaryOp::Exp) return dy * y;                   // dx = dy·y
  else if constexpr (OP == UnaryOp::Log) return dy / x;                   // dx = dy/x
  else if constexpr (OP == UnaryOp::Sqrt) return dy / (T(2) * y);        // dx = dy/(2y)
  else if constexpr (OP == UnaryOp::Rsqrt) return T(-0.5) * dy * y * y * y;  // dx = −½·dy·y³
  else if constexpr (OP == UnaryOp::Abs) return x > T(0) ? dy : (x < T(0) ? -dy : T(0));  // dx = dy·sign(x)
  else if constexpr (OP == UnaryOp::Tanh) return dy * (T(1) - y * y);    // dx = dy·(1 − y²)
  else if constexpr (OP == UnaryOp::Sigmoid) return dy * y * (T(1) - y);  // dx = dy·y(1 − y)
  else if constexpr (OP == UnaryOp::Relu) return x > T(0) ? dy : T(0);    // dx = dy·[x > 0]
  else if constexpr (OP == UnaryOp::LeakyRelu) return x > T(0) ? dy : T(p.a) * dy;  // dx = dy or a·dy
  else if constexpr (OP == UnaryOp::Elu) return x > T(0) ? dy : dy * (y + T(p.a)); // dx = dy or dy·(y + α)
  else if constexpr (OP == UnaryOp::Gelu) {  // dx = dy·(Φ(x) + x·φ(x))
    T cdf = T(0.5) * (T(1) + ::erf(x * kSqrt1_2));
    T pdf = kInvSqrt2Pi * ::exp(T(-0.5) * x * x);
    return dy * (cdf + x * pdf);
  } else if constexpr (OP == UnaryOp::GeluTanh) {  // dx = dy·(½(1+t) + ½x(1−t²)·√(2/π)(1 + 3·0.044715x²))
    T t = ::tanh(kSqrt2OverPi * (x + T(0.044715) * x * x * x));
    return dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * kSqrt2OverPi * (T(1) + T(3 * 0.044715) * x * x));
  } else if constexpr (OP == UnaryOp::Silu) {  // dx = dy·σ(x)(1 + x(1 − σ(x)))
    T s = sigmoid_of(x);
    return dy * s * (T(1) + x * (T(1) - s));
  } else if constexpr (OP == UnaryOp::Softplus) {  // dx = dy·σ(βx), or dy where βx > threshold
    T bx = T(p.a) * x;
    return bx > T(p.b) ? dy : dy * sigmoid_of(bx);
  } else if constexpr (OP == UnaryOp::PowScalar)  // dx = dy·p·xᵖ⁻¹
    return p.a == 0 ? T(0) : dy * T(p.a) * ::pow(x, T(p.a - 1));
  else if constexpr (OP == UnaryOp::Clamp) return (x >= T(p.a) && x <= T(p.b)) ? dy : T(0);  // dx = dy·[lo ≤ x ≤ hi]
  else if constexpr (OP == UnaryOp::AddScalar) return dy;                 // dx = dy
  else if constexpr (OP == UnaryOp::MulScalar) return dy * T(p.a);        // dx = a·dy
  else if constexpr (OP == UnaryOp::Reciprocal) return -dy * y * y;       // dx = −dy·y²
}

}  // namespace kiln

// KILN_UNARY_SWITCH(op, OP_CONST, body): turns a runtime UnaryOp into the constexpr OP_CONST inside body.
#define KILN_UNARY_CASE(NAME, OP_CONST, ...) \
  case ::kiln::UnaryOp::NAME: {              \
    constexpr ::kiln::UnaryOp OP_CONST = ::kiln::UnaryOp::NAME; \
    __VA_ARGS__;                             \
    break;                                   \
  }
#define KILN_UNARY_SWITCH(OP, OP_CONST, ...)                                                            \
  switch (OP) {                                                                                         \
    KILN_UNARY_CASE(Neg, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Exp, OP_CONST, __VA_ARGS__)              \
    KILN_UNARY_CASE(Log, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Sqrt, OP_CONST, __VA_ARGS__)             \
    KILN_UNARY_CASE(Rsqrt, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Abs, OP_CONST, __VA_ARGS__)            \
    KILN_UNARY_CASE(Tanh, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Sigmoid, OP_CONST, __VA_ARGS__)         \
    KILN_UNARY_CASE(Relu, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(LeakyRelu, OP_CONST, __VA_ARGS__)       \
    KILN_UNARY_CASE(Elu, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Gelu, OP_CONST, __VA_ARGS__)             \
    KILN_UNARY_CASE(GeluTanh, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Silu, OP_CONST, __VA_ARGS__)        \
    KILN_UNARY_CASE(Softplus, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(PowScalar, OP_CONST, __VA_ARGS__)   \
    KILN_UNARY_CASE(Clamp, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(AddScalar, OP_CONST, __VA_ARGS__)      \
    KILN_UNARY_CASE(MulScalar, OP_CONST, __VA_ARGS__) KILN_UNARY_CASE(Reciprocal, OP_CONST, __VA_ARGS__) \
  }
