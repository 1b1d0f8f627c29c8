// CPU reference kernel for scaled dot-product attention, written as plain loops over one query row
// at a time (the same row-wise structure a flash-style GPU kernel uses). Contiguous arrays only:
// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], out [B, Tq, Dv], lse [B, Tq]. Compute only: no autograd.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace kiln::cpu {

struct AttentionShape {
  int64_t B, Tq, Tk, D, Dv;
};

// out = softmax(scale·q·kᵀ, masked) · v, and lse = the log-sum-exp of each masked score row (saved
// for backward, which recomputes the probabilities from it). causal: query i sees keys j ≤ i.
// A row with no visible key (Tk = 0) gives zeros and lse = −∞.
void attention_forward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v, double scale,
                       bool causal, void* out, void* lse);
// dV = Pᵀ·dO ; dP = dO·Vᵀ ; dS = P∘(dP − rowsum(dP∘P)) ; dQ = scale·dS·K ; dK = scale·dSᵀ·Q.
// Any of dq, dk, dv may be null (not needed). `out` is the forward's output [B, Tq, Dv]: unused here (the
// reference computes rowsum(dP∘P) itself); the CUDA flash kernel takes rowsum(dO∘O), the same number.
void attention_backward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                        const void* out, const void* lse, const void* dout, double scale, bool causal, void* dq,
                        void* dk, void* dv);

}  // namespace kiln::cpu
