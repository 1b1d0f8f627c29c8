// Fused LSTM and GRU cells on the GPU: one thread per (sample n, unit j), grid-stride, applying the
// per-unit math of kernels/common/rnn_cell_math.h that the CPU kernels use.
#include <cuda_runtime.h>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/common/rnn_cell_math.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/rnn_cell.h"

namespace kiln::cuda {
namespace {

// Each kernel: one thread per state element at = n·H + j (grid-stride), applying the shared per-element
// function of kernels/common/rnn_cell_math.h (which also holds the gate layout).
template <class T>
__global__ void lstm_forward_kernel(int64_t N, int64_t H, const T* a, const T* cp, T* h, T* c) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < N * H; at += int64_t(gridDim.x) * blockDim.x)
    lstm_element_forward(at, H, a, cp, h, c);
}

template <class T>
__global__ void lstm_backward_kernel(int64_t N, int64_t H, const T* a, const T* cp, const T* cn, const T* dh,
                                     const T* dc, T* da, T* dcprev) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < N * H; at += int64_t(gridDim.x) * blockDim.x)
    lstm_element_backward(at, H, a, cp, cn, dh, dc, da, dcprev);
}

template <class T>
__global__ void gru_forward_kernel(int64_t N, int64_t H, const T* gi, const T* gh, const T* hprev, T* h) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < N * H; at += int64_t(gridDim.x) * blockDim.x)
    gru_element_forward(at, H, gi, gh, hprev, h);
}

template <class T>
__global__ void gru_backward_kernel(int64_t N, int64_t H, const T* gi, const T* gh, const T* hprev, const T* dh,
                                    T* dgi, T* dgh, T* dhprev) {
  for (int64_t at = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; at < N * H; at += int64_t(gridDim.x) * blockDim.x)
    gru_element_backward(at, H, gi, gh, hprev, dh, dgi, dgh, dhprev);
}

}  // namespace

void lstm_cell_forward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, void* h, void* c) {
  if (N * H == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell", [&]<class T>() {
    lstm_forward_kernel<T><<<grid_for(N * H), kBlock, 0, launch_stream()>>>(
        N, H, static_cast<const T*>(gates), static_cast<const T*>(c_prev), static_cast<T*>(h), static_cast<T*>(c));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void lstm_cell_backward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, const void* c,
                        const void* dh, const void* dc, void* dgates, void* dc_prev) {
  if (N * H == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "lstm_cell backward", [&]<class T>() {
    lstm_backward_kernel<T><<<grid_for(N * H), kBlock, 0, launch_stream()>>>(
        N, H, static_cast<const T*>(gates), static_cast<const T*>(c_prev), static_cast<const T*>(c),
        static_cast<const T*>(dh), static_cast<const T*>(dc), static_cast<T*>(dgates), static_cast<T*>(dc_prev));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void gru_cell_forward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev, void* h) {
  if (N * H == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "gru_cell", [&]<class T>() {
    gru_forward_kernel<T><<<grid_for(N * H), kBlock, 0, launch_stream()>>>(
        N, H, static_cast<const T*>(gi), static_cast<const T*>(gh), static_cast<const T*>(h_prev), static_cast<T*>(h));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

void gru_cell_backward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev,
                       const void* dh, void* dgi, void* dgh, void* dh_prev) {
  if (N * H == 0) return;
  KILN_DISPATCH_FLOAT(dtype, "gru_cell backward", [&]<class T>() {
    gru_backward_kernel<T><<<grid_for(N * H), kBlock, 0, launch_stream()>>>(
        N, H, static_cast<const T*>(gi), static_cast<const T*>(gh), static_cast<const T*>(h_prev),
        static_cast<const T*>(dh), static_cast<T*>(dgi), static_cast<T*>(dgh), static_cast<T*>(dh_prev));
  });
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
