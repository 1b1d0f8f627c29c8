// CPU reference kernels for the fused LSTM and GRU cell pointwise math (kernels/common/rnn_cell_math.h).
// Contiguous arrays: gates [N, 4H] (i, f, g, o), gi/gh [N, 3H] (r, z, n), states [N, H].
// Gradient outputs may be null (not needed). Compute only: no autograd.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kiln::cpu {

void lstm_cell_forward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, void* h, void* c);
void lstm_cell_backward(DType dtype, int64_t N, int64_t H, const void* gates, const void* c_prev, const void* c,
                        const void* dh, const void* dc, void* dgates, void* dc_prev);

void gru_cell_forward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev, void* h);
void gru_cell_backward(DType dtype, int64_t N, int64_t H, const void* gi, const void* gh, const void* h_prev,
                       const void* dh, void* dgi, void* dgh, void* dh_prev);

}  // namespace kiln::cpu
