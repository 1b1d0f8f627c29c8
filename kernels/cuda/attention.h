// CUDA kernels for scaled dot-product attention: the functions of kernels/cpu/attention.h with the same
// signatures (device pointers, contiguous arrays; the forward saves the row log-sum-exp and the
// backward recomputes the probabilities from it), and the simple reference kernels beside the flash
// ones. Plain C++ header (no CUDA includes). Compute only.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"  // AttentionShape

namespace kiln::cuda {

using cpu::AttentionShape;

// The dispatch: float32 with head dims up to 128 runs the flash kernels (flash_attention.h); float64,
// and float32 with wider heads, run the reference kernels below.
void attention_forward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v, double scale,
                       bool causal, void* out, void* lse);
void attention_backward(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                        const void* out, const void* lse, const void* dout, double scale, bool causal, void* dq,
                        void* dk, void* dv);

// The reference kernels: one block per query (or key) row, every sum in double, deterministic, any head
// dim. They are the float64 path, the fallback for wide heads, and the baseline of the kernel lab.
// The backward computes rowsum(dP∘P) itself (it needs no forward output).
void attention_forward_reference(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                                 double scale, bool causal, void* out, void* lse);
void attention_backward_reference(DType dtype, const AttentionShape& s, const void* q, const void* k, const void* v,
                                  const void* lse, const void* dout, double scale, bool causal, void* dq, void* dk,
                                  void* dv);

}  // namespace kiln::cuda
