// Flash attention for float32 on the GPU (FlashAttention-2 style, deterministic: no atomics). The
// forward streams K/V tiles through shared memory with an online softmax and saves the row log-sum-exp;
// the backward recomputes the probabilities from it. No [Tq, Tk] matrix is ever stored, so memory grows
// linearly with the sequence length. Plain C++ header (no CUDA includes); compute only, no autograd.
#pragma once
#include <cstdint>

#include "kernels/cpu/attention.h"  // AttentionShape

namespace kiln::cuda {

using cpu::AttentionShape;

// The largest head dims (D of q and k, Dv of v) the flash kernels take: per thread, a quarter of a
// row of the output (or of dq, dk, dv) lives in registers.
inline constexpr int64_t kFlashMaxHeadDim = 128;

// Whether the flash kernels run this shape on the current device: 1 ≤ D, Dv ≤ 128 and the device lets
// a block have the shared memory the tiles need (the kernels are opted in to more than 48 KiB on first
// use). Otherwise callers use the reference kernel of attention.h.
bool flash_attention_supported(const AttentionShape& s);

// Contiguous device arrays q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] → out [B, Tq, Dv] =
// softmax(scale·q·kᵀ, masked)·v and lse [B, Tq], the log-sum-exp of each masked score row.
// causal: query i sees keys j ≤ i. A row with no visible key gives zeros and lse = −∞.
void flash_attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v, float scale,
                             bool causal, float* out, float* lse);

// From out and lse of the forward and dout [B, Tq, Dv]: Δ_i = rowsum(dO_i∘O_i) (= rowsum(dP∘P)), then
// P = exp(S − lse), dS = P∘(dP − Δ) with dP = dO·Vᵀ, and dV = Pᵀ·dO, dK = scale·dSᵀ·Q (one block per key
// tile) and dQ = scale·dS·K (one block per query tile). Any of dq, dk, dv may be null.
void flash_attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                              const float* out, const float* lse, const float* dout, float scale, bool causal,
                              float* dq, float* dk, float* dv);

}  // namespace kiln::cuda
