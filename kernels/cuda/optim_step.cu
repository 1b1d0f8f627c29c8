// The fused optimizer step and weight EMA on the GPU: multi_tensor_apply (one launch for a whole list
// of tensors) with the per-element updates of kernels/common/optim_math.h that the CPU loops use.
#include <algorithm>

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
  const double* step_scalars;  // null, or the step's scalars in device memory (a CUDA graph)
  __device__ void operator()(const SgdSlot<T>& t, int64_t i) const {
    SgdScalars<T> scalars = s;
    sgd_scalars_from_memory(scalars, step_scalars);
    sgd_update_element(t.param[i], t.grad[i], t.momentum_buffer == nullptr ? nullptr : t.momentum_buffer + i,
                       t.first_step, scalars);
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
  int64_t index;      // the tensor's place in the step (its scalars in step_scalars)
};
template <class T>
struct AdamOp {
  AdamScalars<T> s;
  const double* step_scalars;  // null, or the step's scalars in device memory (a CUDA graph)
  __device__ void operator()(const AdamSlot<T>& t, int64_t i) const {
    AdamScalars<T> scalars = s;
    T step_size = t.step_size, bias_correction2_sqrt = t.bias_correction2_sqrt;
    adam_scalars_from_memory(scalars, step_scalars);
    adam_tensor_scalars_from_memory(step_size, bias_correction2_sqrt, step_scalars, t.index);
    adam_update_element(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i],
                        t.max_exp_avg_sq == nullptr ? nullptr : t.max_exp_avg_sq + i, scalars, step_size,
                        bias_correction2_sqrt);
  }
};

// Step scalars written before a replay: the values travel in the kernel's arguments.
constexpr int kScalarsPerLaunch = 480;
struct ScalarChunk {
  double values[kScalarsPerLaunch];
};
__global__ void write_scalars_kernel(double* dst, int count, const __grid_constant__ ScalarChunk chunk) {
  for (int i = threadIdx.x; i < count; i += blockDim.x) dst[i] = chunk.values[i];
}

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
    multi_tensor_apply("sgd_step", SgdOp<T>{sgd_scalars<T>(hyper), hyper.step_scalars}, slots);
  });
}

void adam_step(DType dtype, const std::vector<AdamTensor>& tensors, const AdamHyperparams& hyper) {
  KILN_DISPATCH_FLOAT(dtype, "adam_step", [&]<class T>() {
    std::vector<AdamSlot<T>> slots;
    slots.reserve(tensors.size());
    for (size_t k = 0; k < tensors.size(); ++k) {
      const AdamTensor& t = tensors[k];
      slots.push_back({static_cast<T*>(t.param), static_cast<const T*>(t.grad), static_cast<T*>(t.exp_avg),
                       static_cast<T*>(t.exp_avg_sq), static_cast<T*>(t.max_exp_avg_sq), t.numel, T(t.step_size),
                       T(t.bias_correction2_sqrt), int64_t(k)});
    }
    multi_tensor_apply("adam_step", AdamOp<T>{adam_scalars<T>(hyper), hyper.step_scalars}, slots);
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

void write_step_scalars(double* dst, const std::vector<double>& values) {
  for (size_t first = 0; first < values.size(); first += kScalarsPerLaunch) {
    ScalarChunk chunk{};
    const size_t count = std::min<size_t>(kScalarsPerLaunch, values.size() - first);
    for (size_t i = 0; i < count; ++i) chunk.values[i] = values[first + i];
    write_scalars_kernel<<<1, 128, 0, launch_stream()>>>(dst + first, int(count), chunk);
    KILN_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace kiln::cuda
