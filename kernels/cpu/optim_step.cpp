#include "kernels/cpu/optim_step.h"

#include "core/error.h"

namespace kiln::cpu {

// Plain loops over the tensors and their elements: the reference the fused CUDA kernel is tested against.

void sgd_step(DType dtype, const std::vector<SgdTensor>& tensors, const SgdHyperparams& hyper) {
  KILN_DISPATCH_FLOAT(dtype, "sgd_step", [&]<class T>() {
    SgdScalars<T> s = sgd_scalars<T>(hyper);
    sgd_scalars_from_memory(s, hyper.step_scalars);
    for (const SgdTensor& t : tensors) {
      T* p = static_cast<T*>(t.param);
      const T* g = static_cast<const T*>(t.grad);
      T* buf = static_cast<T*>(t.momentum_buffer);
      for (int64_t i = 0; i < t.numel; ++i)
        sgd_update_element(p[i], g[i], buf == nullptr ? nullptr : buf + i, t.first_step, s);
    }
  });
}

void adam_step(DType dtype, const std::vector<AdamTensor>& tensors, const AdamHyperparams& hyper) {
  KILN_DISPATCH_FLOAT(dtype, "adam_step", [&]<class T>() {
    AdamScalars<T> s = adam_scalars<T>(hyper);
    adam_scalars_from_memory(s, hyper.step_scalars);
    for (size_t k = 0; k < tensors.size(); ++k) {
      const AdamTensor& t = tensors[k];
      T* p = static_cast<T*>(t.param);
      const T* g = static_cast<const T*>(t.grad);
      T* m = static_cast<T*>(t.exp_avg);
      T* v = static_cast<T*>(t.exp_avg_sq);
      T* vmax = static_cast<T*>(t.max_exp_avg_sq);
      T step_size = T(t.step_size), bc2_sqrt = T(t.bias_correction2_sqrt);
      adam_tensor_scalars_from_memory(step_size, bc2_sqrt, hyper.step_scalars, int64_t(k));
      for (int64_t i = 0; i < t.numel; ++i)
        adam_update_element(p[i], g[i], m[i], v[i], vmax == nullptr ? nullptr : vmax + i, s, step_size, bc2_sqrt);
    }
  });
}

void ema_step(DType dtype, const std::vector<EmaTensor>& tensors, double weight) {
  KILN_DISPATCH_FLOAT(dtype, "ema_step", [&]<class T>() {
    const T w = T(weight);
    for (const EmaTensor& t : tensors) {
      T* ema = static_cast<T*>(t.ema);
      const T* p = static_cast<const T*>(t.param);
      for (int64_t i = 0; i < t.numel; ++i) ema_update_element(ema[i], p[i], w);
    }
  });
}

}  // namespace kiln::cpu
