// The fused optimizer step and weight EMA on the GPU: multi_tensor_apply (one launch for a whole list
// of tensors) with the per-element updates of kernels/common/optim_math.h that the CPU loops use.
#include "kernels/common/optim_math.h"
#include "kernels/cuda/multi_tensor_apply.cuh"
#include "kernels/cuda/optim_step.h"

namespace kiln::cuda {
namespace {

// ---- SGD
template <class T>
struct SgdSlot {
  T* param;
  const T* grad;
  T* momentum_buffer;  // null when momentum == 0
  int64_t numel;
  bool first_step;
};
template <class T>
struct SgdOp {
  SgdScalars<T> s;
  __device__ void operator()(const SgdSlot<T>& t, int64_t i) const {
    sgd_update_element(t.param[i], t.grad[i], t.momentum_buffer == nullptr ? nullptr : t.momentum_buffer + i,
                       t.first_step, s);
  }
};

// ---- Adam, AdamW
template <class T>
struct AdamSlot {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;  // null unless amsgrad
  int64_t numel;
  T step_size;        // this tensor's lr / (1 − β1ᵗ), cast to T on the host as PyTorch casts its scalars
  T bias_correction2_sqrt;
};
template <class T>
struct AdamOp {
  AdamScalars<T> s;
  __device__ void operator()(const AdamSlot<T>& t, int64_t i) const {
    adam_update_element(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i],
                        t.max_exp_avg_sq == nullptr ? nullptr : t.max_exp_avg_sq + i, s, t.step_size,
                        t.bias_correction2_sqrt);
  }
};

// ---- EMA
template <class T>
struct EmaSlot {
  T* ema;
  const T* param;
  int64_t numel;
};
template <class T>
struct EmaOp {
  T weight;  // 1 − decay
  __device__ void operator()(const EmaSlot<T>& t, int64_t i) const { ema_update_element(t.ema[i], t.param[i], weight); }
};

}  // namespace

void sgd_step(DType dtype, const std::vector<SgdTensor>& tensors, const SgdHyperparams& hyper) {
  KILN_DISPATCH_FLOAT(dtype, "sgd_step", [&]<class T>() {
    std::vector<SgdSlot<T>> slots;
    slots.reserve(tensors.size());
    for (const SgdTensor& t : tensors)
      slots.push_back({static_cast<T*>(t.param), static_cast<const T*>(t.grad), static_cast<T*>(t.momentum_buffer),
                       t.numel, t.first_step});
    multi_tensor_apply("sgd_step", SgdOp<T>{sgd_scalars<T>(hyper)}, slots);
  });
}

void adam_step(DType dtype, const std::vector<AdamTensor>& tensors, const AdamHyperparams& hyper) {
  KILN_DISPATCH_FLOAT(dtype, "adam_step", [&]<class T>() {
    std::vector<AdamSlot<T>> slots;
    slots.reserve(tensors.size());
    for (const AdamTensor& t : tensors)
      slots.push_back({static_cast<T*>(t.param), static_cast<const T*>(t.grad), static_cast<T*>(t.exp_avg),
                       static_cast<T*>(t.exp_avg_sq), static_cast<T*>(t.max_exp_avg_sq), t.numel, T(t.step_size),
                       T(t.bias_correction2_sqrt)});
    multi_tensor_apply("adam_step", AdamOp<T>{adam_scalars<T>(hyper)}, slots);
  });
}

void ema_step(DType dtype, const std::vector<EmaTensor>& tensors, double weight) {
  KILN_DISPATCH_FLOAT(dtype, "ema_step", [&]<class T>() {
    std::vector<EmaSlot<T>> slots;
    slots.reserve(tensors.size());
    for (const EmaTensor& t : tensors)
      slots.push_back({static_cast<T*>(t.ema), static_cast<const T*>(t.param), t.numel});
    multi_tensor_apply("ema_step", EmaOp<T>{T(weight)}, slots);
  });
}

}  // namespace kiln::cuda
