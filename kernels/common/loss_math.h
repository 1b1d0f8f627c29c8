// The per-element math of the losses, forward and gradients side by side, shared by the CPU
// reference kernels and (later) the CUDA kernels. Reductions over elements happen outside.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/unary_math.h"

namespace kiln {

// Losses that are a function of two same-shape tensors, element by element.
enum class PointwiseLoss : uint8_t { BceWithLogits, Mse, GaussianKl };

template <PointwiseLoss L, class T>
KILN_HD T pointwise_loss(T a, T b) {
  if constexpr (L == PointwiseLoss::BceWithLogits)  // ℓ = max(x, 0) − x·t + ln(1 + e^{−|x|}), never overflows
    return (a > T(0) ? a : T(0)) - a * b + ::log1p(::exp(a > T(0) ? -a : a));
  else if constexpr (L == PointwiseLoss::Mse)  // ℓ = (a − b)²
    return (a - b) * (a - b);
  else  // gaussian KL to N(0, 1), a = μ, b = log σ²: ℓ = −½(1 + lv − μ² − e^{lv})
    return T(-0.5) * (T(1) + b - a * a - ::exp(b));
}

// ∂ℓ/∂a and ∂ℓ/∂b.
template <PointwiseLoss L, class T>
KILN_HD void pointwise_loss_grad(T a, T b, T& da, T& db) {
  if constexpr (L == PointwiseLoss::BceWithLogits) {  // ∂x = σ(x) − t ;  ∂t = −x
    da = sigmoid_of(a) - b;
    db = -a;
  } else if constexpr (L == PointwiseLoss::Mse) {  // ∂a = 2(a − b) ;  ∂b = −2(a − b)
    da = T(2) * (a - b);
    db = -da;
  } else {  // ∂μ = μ ;  ∂lv = ½(e^{lv} − 1)
    da = a;
    db = T(0.5) * (::exp(b) - T(1));
  }
}

// Cross-entropy at one position with C classes, label smoothing ε, lse = ln Σ_c e^{x_c}:
// ℓ = (1 − ε)·(lse − x_t) + (ε/C)·Σ_c (lse − x_c) = lse − (1 − ε)·x_t − (ε/C)·Σ_c x_c
template <class T>
KILN_HD T cross_entropy_position(T lse, T x_target, T x_sum, int64_t classes, T smoothing) {
  return lse - (T(1) - smoothing) * x_target - smoothing / T(classes) * x_sum;
}

// ∂ℓ/∂x_c = softmax_c − (1 − ε)·[c = t] − ε/C
template <class T>
KILN_HD T cross_entropy_grad(T x_c, T lse, bool is_target, int64_t classes, T smoothing) {
  return ::exp(x_c - lse) - (is_target ? T(1) - smoothing : T(0)) - smoothing / T(classes);
}

}  // namespace kiln
