// The math of the elementwise binary ops, forward and the two partial derivatives, shared by the
// CPU and CUDA kernels. Backward returns (∂y/∂a, ∂y/∂b) at (a, b), to be multiplied by dy.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln {

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum };
enum class CompareOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

template <BinaryOp OP, class T>
KILN_HD T binary_forward(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else if constexpr (OP == BinaryOp::Div) return a / b;
  else if constexpr (OP == BinaryOp::Pow) return ::pow(a, b);
  else if constexpr (OP == BinaryOp::Maximum) return a > b ? a : b;
  else if constexpr (OP == BinaryOp::Minimum) return a < b ? a : b;
}

// da = dy·∂y/∂a, db = dy·∂y/∂b (before summing back over broadcast dims).
template <BinaryOp OP, class T>
KILN_HD void binary_backward(T a, T b, T dy, T& da, T& db) {
  if constexpr (OP == BinaryOp::Add) { da = dy; db = dy; }                    // y = a + b
  else if constexpr (OP == BinaryOp::Sub) { da = dy; db = -dy; }              // y = a − b
  else if constexpr (OP == BinaryOp::Mul) { da = dy * b; db = dy * a; }       // y = a·b
  else if constexpr (OP == BinaryOp::Div) { da = dy / b; db = -dy * a / (b * b); }  // y = a/b
  else if constexpr (OP == BinaryOp::Pow) {                                   // y = aᵇ
    da = b == T(0) ? T(0) : dy * b * ::pow(a, b - T(1));                       // ∂/∂a = b·aᵇ⁻¹
    db = (a == T(0) && b >= T(0)) ? T(0) : dy * ::pow(a, b) * ::log(a);        // ∂/∂b = aᵇ·ln a (NaN for a < 0, as PyTorch)
  } else if constexpr (OP == BinaryOp::Maximum) {  // the larger gets dy; ties split it evenly
    da = a > b ? dy : (a == b ? dy / T(2) : T(0));
    db = b > a ? dy : (a == b ? dy / T(2) : T(0));
  } else if constexpr (OP == BinaryOp::Minimum) {
    da = a < b ? dy : (a == b ? dy / T(2) : T(0));
    db = b < a ? dy : (a == b ? dy / T(2) : T(0));
  }
}

// The ops that are also defined for int64 (exact in integer arithmetic, e.g. counters kept on the
// device); Div and Pow stay float-only. Integers never carry gradients.
KILN_HD constexpr bool binary_supports_int64(BinaryOp op) { return op != BinaryOp::Div && op != BinaryOp::Pow; }

template <class T>
KILN_HD bool compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::Eq: return a == b;
    case CompareOp::Ne: return a != b;
    case CompareOp::Lt: return a < b;
    case CompareOp::Le: return a <= b;
    case CompareOp::Gt: return a > b;
    case CompareOp::Ge: return a >= b;
  }
  return false;
}

}  // namespace kiln

#define KILN_BINARY_CASE(NAME, OP_CONST, ...) \
  case ::kiln::BinaryOp::NAME: {              \
    constexpr ::kiln::BinaryOp OP_CONST = ::kiln::BinaryOp::NAME; \
    __VA_ARGS__;                              \
    break;                                    \
  }
#define KILN_BINARY_SWITCH(OP, OP_CONST, ...)                                                       \
  switch (OP) {                                                                                     \
    KILN_BINARY_CASE(Add, OP_CONST, __VA_ARGS__) KILN_BINARY_CASE(Sub, OP_CONST, __VA_ARGS__)        \
    KILN_BINARY_CASE(Mul, OP_CONST, __VA_ARGS__) KILN_BINARY_CASE(Div, OP_CONST, __VA_ARGS__)        \
    KILN_BINARY_CASE(Pow, OP_CONST, __VA_ARGS__) KILN_BINARY_CASE(Maximum, OP_CONST, __VA_ARGS__)    \
    KILN_BINARY_CASE(Minimum, OP_CONST, __VA_ARGS__)                                                \
  }
// The same over the ops of binary_supports_int64 only (the caller has checked the op).
#define KILN_BINARY_INT_SWITCH(OP, OP_CONST, ...)                                                   \
  switch (OP) {                                                                                     \
    KILN_BINARY_CASE(Add, OP_CONST, __VA_ARGS__) KILN_BINARY_CASE(Sub, OP_CONST, __VA_ARGS__)        \
    KILN_BINARY_CASE(Mul, OP_CONST, __VA_ARGS__) KILN_BINARY_CASE(Maximum, OP_CONST, __VA_ARGS__)    \
    KILN_BINARY_CASE(Minimum, OP_CONST, __VA_ARGS__)                                                \
    default: break;                                                                                 \
  }
