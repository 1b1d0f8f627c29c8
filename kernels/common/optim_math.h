// The per-element updates of SGD, Adam/AdamW and the weight EMA, shared by the CPU loop and the fused
// CUDA kernel (kernels/{cpu,cuda}/optim_step), plus the per-tensor descriptors both kernels take.
// Host code computes every step-dependent scalar in double (as torch.optim does in Python); no device reads.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace kiln {

// ---------------------------------------------------------------- what the kernels are given
// Raw pointers to contiguous arrays of `numel` elements of the group's dtype, all on one device.

// Step scalars in memory (CUDA graphs, whose kernel arguments are frozen at capture): `step_scalars`
// points to doubles in the kernel's memory, written before each step by the host with exactly the values
// the arguments would carry. [0] is the group's learning-rate term (SGD: −lr; Adam: 1 − lr·wd), then two
// per tensor (Adam: step_size, bias_correction2_sqrt). Null: the arguments' own values are used.
struct SgdHyperparams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  const double* step_scalars = nullptr;
};
struct SgdTensor {
  void* param;
  const void* grad;
  void* momentum_buffer;  // null when momentum == 0
  int64_t numel;
  bool first_step;        // the buffer is new: b ← g instead of μ·b + (1−dampening)·g
};

struct AdamHyperparams {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, decoupled;  // decoupled: AdamW
  const double* step_scalars = nullptr;
};
struct AdamTensor {
  void* param;
  const void* grad;
  void* exp_avg;
  void* exp_avg_sq;
  void* max_exp_avg_sq;   // null unless amsgrad
  int64_t numel;
  // From this parameter's own step count t (parameters skipped on some steps have smaller t):
  double step_size;              // lr / (1 − β1ᵗ)
  double bias_correction2_sqrt;  // √(1 − β2ᵗ)
};

// The group's learning-rate term in step_scalars[0]: the value sgd_scalars / adam_scalars cast to T.
inline double sgd_lr_term(const SgdHyperparams& h) { return -h.lr; }
inline double adam_lr_term(const AdamHyperparams& h) { return 1.0 - h.lr * h.weight_decay; }

// Per-tensor scalars of Adam step t, computed as torch.optim.Adam computes them in Python (double).
inline void set_adam_bias_corrections(AdamTensor& t, const AdamHyperparams& h, int64_t step) {
  const double bias_correction1 = 1.0 - std::pow(h.beta1, double(step));
  const double bias_correction2 = 1.0 - std::pow(h.beta2, double(step));
  t.step_size = h.lr / bias_correction1;
  t.bias_correction2_sqrt = std::sqrt(bias_correction2);
}

struct EmaTensor {
  void* ema;
  const void* param;
  int64_t numel;
};

// ---------------------------------------------------------------- the scalars in the tensor dtype
// torch.optim computes 1 − dampening, 1 − β1, −lr, ... in Python (double) and each tensor op casts its
// scalar to the tensor's dtype; these structs hold exactly those casts, made once on the host.

template <class T>
struct SgdScalars {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool has_momentum, has_weight_decay, nesterov;
};
template <class T>
SgdScalars<T> sgd_scalars(const SgdHyperparams& h) {
  return {T(sgd_lr_term(h)),  T(h.momentum),         T(1.0 - h.dampening), T(h.weight_decay),
          h.momentum != 0.0, h.weight_decay != 0.0, h.nesterov};
}

template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decoupled_factor;
  bool has_weight_decay, decoupled, amsgrad;
};
template <class T>
AdamScalars<T> adam_scalars(const AdamHyperparams& h) {
  return {T(h.beta1),
          T(1.0 - h.beta1),
          T(h.beta2),
          T(1.0 - h.beta2),
          T(h.eps),
          T(h.weight_decay),
          T(adam_lr_term(h)),
          h.weight_decay != 0.0,
          h.decoupled,
          h.amsgrad};
}

// The scalars of one step read from memory (step_scalars): the same casts, made where the kernel runs.
template <class T>
KILN_HD void sgd_scalars_from_memory(SgdScalars<T>& s, const double* step_scalars) {
  if (step_scalars != nullptr) s.neg_lr = T(step_scalars[0]);
}
template <class T>
KILN_HD void adam_scalars_from_memory(AdamScalars<T>& s, const double* step_scalars) {
  if (step_scalars != nullptr) s.decoupled_factor = T(step_scalars[0]);
}
// Tensor k's step_size and bias_correction2_sqrt, from memory when the step has them there.
template <class T>
KILN_HD void adam_tensor_scalars_from_memory(T& step_size, T& bias_correction2_sqrt, const double* step_scalars,
                                             int64_t k) {
  if (step_scalars == nullptr) return;
  step_size = T(step_scalars[1 + 2 * k]);
  bias_correction2_sqrt = T(step_scalars[2 + 2 * k]);
}

// ---------------------------------------------------------------- the per-element updates

// torch.optim.SGD (sgd.py, _single_tensor_sgd; each line one tensor op there, in its order):
//   g ← g + wd·p                                  (only when wd ≠ 0: 0·inf would make NaN)
//   b ← g on the first step (clone), else b ← μ·b + (1 − dampening)·g
//   g ← g + μ·b (nesterov)  or  g ← b
//   p ← p + (−lr)·g
// `buf` is the element of the momentum buffer (unused when momentum == 0).
template <class T>
KILN_HD void sgd_update_element(T& p, T g, T* buf, bool first_step, const SgdScalars<T>& s) {
  if (s.has_weight_decay) g = g + s.weight_decay * p;
  if (s.has_momentum) {
    T b = first_step ? g : s.momentum * *buf + s.one_minus_dampening * g;
    *buf = b;
    g = s.nesterov ? g + s.momentum * b : b;
  }
  p = p + s.neg_lr * g;
}

// maximum that propagates NaN, as torch.maximum does.
template <class T>
KILN_HD T nan_propagating_max(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// torch.optim.Adam / AdamW (adam.py, adamw.py, _single_tensor_* in PyTorch 1.13; each line one tensor op):
//   AdamW: p ← p·(1 − lr·wd)            Adam: g ← g + wd·p (only when wd ≠ 0)
//   m ← β1·m + (1 − β1)·g                (PyTorch ≥ 2.1 writes m.lerp_(g, 1 − β1): equal up to rounding)
//   v ← β2·v + (1 − β2)·g·g              (addcmul: (1 − β2)·g, then ·g)
//   v̂ ← max(v̂, v) and use v̂ for v      (amsgrad)
//   denom = √v / √(1 − β2ᵗ) + eps
//   p ← p + (−step_size)·m / denom       (addcdiv on the CPU: ((−step_size)·m) / denom)
// with step_size = lr / (1 − β1ᵗ) and bias_correction2_sqrt = √(1 − β2ᵗ) from the host (per tensor, since
// each parameter has its own t). `vmax` is the element of max_exp_avg_sq (unused unless amsgrad).
template <class T>
KILN_HD void adam_update_element(T& p, T g, T& m, T& v, T* vmax, const AdamScalars<T>& s, T step_size,
                                 T bias_correction2_sqrt) {
  if (s.decoupled)
    p = p * s.decoupled_factor;
  else if (s.has_weight_decay)
    g = g + s.weight_decay * p;
  m = s.beta1 * m + s.one_minus_beta1 * g;
  v = s.beta2 * v + s.one_minus_beta2 * g * g;
  T second = v;
  if (s.amsgrad) {
    second = nan_propagating_max(*vmax, v);
    *vmax = second;
  }
  // (On the host ::sqrt(float) is the double sqrt; rounded back to T it equals the correctly rounded sqrtf.)
  const T root = T(::sqrt(second));
  const T denom = root / bias_correction2_sqrt + s.eps;
  p = p + (-step_size) * m / denom;
}

// torch.lerp(a, b, w) exactly as ATen computes it (ATen/native/Lerp.h): a + w·(b − a) for |w| < ½,
// else b − (b − a)·(1 − w); each form is exact at its own end (w = 0 gives a, w = 1 gives b).
template <class T>
KILN_HD T lerp_like_torch(T a, T b, T w) {
  return (w < T(0.5) && w > T(-0.5)) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// Weight EMA: ema ← decay·ema + (1 − decay)·p, computed as torch.lerp(ema, p, 1 − decay) (what
// torch.optim.swa_utils.get_ema_multi_avg_fn does with _foreach_lerp_); `weight` = 1 − decay, from the host.
template <class T>
KILN_HD void ema_update_element(T& ema, T p, T weight) {
  ema = lerp_like_torch(ema, p, weight);
}

}  // namespace kiln
