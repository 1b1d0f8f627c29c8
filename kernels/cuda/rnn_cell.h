// CUDA kernels for the fused LSTM and GRU cell pointwise math: the functions of kernels/cpu/rnn_cell.h
// with the same signatures (device pointers, contiguous arrays; gradient outputs may be null).
// Plain C++ header (no CUDA includes). Compute only.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kiln::cuda {

void lstm_cell_forward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, void* h, void* c);
void lstm_cell_backward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, const void* c,
                        const void* dh, const void* dc, void* dgates, void* dc_prev);

void gru_cell_forward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev, void* h);
void gru_cell_backward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev,
                       const void* dh, void* dgi, void* dgh, void* dh_prev);

}  // namespace kiln::cuda
