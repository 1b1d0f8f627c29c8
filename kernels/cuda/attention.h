// CUDA kernels for scaled dot-product attention: the functions of kernels/cpu/attention.h with the same
// signatures (device pointers, contiguous arrays; the forward saves the row log-sum-exp and the
// backward recomputes the probabilities from it). Plain C++ header (no CUDA includes). Compute only.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"  // AttentionShape

namespace kiln::cuda {

using cpu::AttentionShape;

void attention_forward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v, double scale,
                       bool causal, void* out, void* lse);
void attention_backward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                        const void* lse, const void* dout, double scale, bool causal, void* dq, void* dk, void* dv);

}  // namespace kiln::cuda
