// cuDNN's multi-layer LSTM and GRU (the v8 RNN API: cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8) for the `cudnn_rnn` op of core/ops/rnn.cpp, which owns the autograd side.
// Unidirectional, no projection, both biases, time-major [T, N, ·] contiguous device data. Plain C++ header
// (raw pointers only); defined in kernels/cudnn/cudnn_rnn.cpp in CUDA builds, where without cuDNN
// cudnn_rnn_prepare answers false.
#pragma once
#include <compare>
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cuda {

// What one cuDNN RNN call computes: the cell, the sizes of the whole stack, and the sequence shape.
struct CudnnRnnShape {
  bool lstm = true;  // false: GRU
  int64_t input_size = 0, hidden_size = 0, num_layers = 0;
  int64_t seq_length = 0, batch = 0;
  auto operator<=>(const CudnnRnnShape&) const = default;
};

// A stretch of one PyTorch parameter (layer, which: 0 weight_ih, 1 weight_hh, 2 bias_ih, 3 bias_hh), seen
// as a flat row-major array, that lies in one piece inside cuDNN's packed weight space. Offsets and sizes in
// elements. Gates that cuDNN stores back to back are merged, so usually each parameter is one run.
struct CudnnRnnWeightRun {
  int64_t layer = 0;
  int which = 0;
  int64_t param_offset = 0;  // into the parameter
  int64_t space_offset = 0;  // into the weight space
  int64_t numel = 0;
};

// The sizes a caller allocates for a shape: the weight space (elements of the dtype) and the reserve space
// (bytes) of a training forward, plus where each parameter goes in the weight space.
struct CudnnRnnPlanInfo {
  int64_t weight_space_numel = 0;
  int64_t reserve_bytes = 0;
  std::vector<CudnnRnnWeightRun> runs;
};

// Builds cuDNN's descriptors for (device, dtype, TF32 switch, shape) once and fills `info`. False where
// cuDNN cannot describe the case (kiln built without cuDNN, sizes over its int limits, a dtype other than
// float32/float64, a weight layout that is not PyTorch's gates): the caller then uses the cell loop.
bool cudnn_rnn_prepare(const CudnnRnnShape& shape, DType dtype, CudnnRnnPlanInfo* info);

// y [T, N, H], hy/cy [L, N, H] from x [T, N, in] and hx/cx [L, N, H] (null: zeros; cx and cy null for GRU).
// In training mode it leaves in `reserve` (reserve_bytes of the plan) what the backward needs; in inference
// mode reserve is unused (pass null). Launches on kiln's stream; no sync.
void cudnn_rnn_forward(const CudnnRnnShape& shape, DType dtype, const void* weight_space, const void* x,
                       const void* hx, const void* cx, void* y, void* hy, void* cy, bool training, void* reserve);

// The backward of a training forward with the same reserve: dx (required) and dhx/dcx (null: not wanted)
// from dy (required) and dhy/dcy (null: zeros), then, when dweight_space is not null, the weight gradients
// written into it (overwritten). x, hx, cx and y are the forward's.
void cudnn_rnn_backward(const CudnnRnnShape& shape, DType dtype, const void* weight_space, const void* x,
                        const void* hx, const void* cx, const void* y, const void* dy, const void* dhy,
                        const void* dcy, void* dx, void* dhx, void* dcx, void* dweight_space, void* reserve);

// How many cuDNN RNN forward/backward calls this process has run (0 without cuDNN): lets tests check that
// the cuDNN path is really taken.
int64_t cudnn_rnn_calls_run();

}  // namespace kiln::cuda
