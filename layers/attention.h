// Attention layers as in PyTorch: MultiheadAttention (torch.nn.MultiheadAttention's parameters, init and
// math, need_weights=False), CausalSelfAttention (nanoGPT's qkv/proj layout) and a pre-LayerNorm
// TransformerBlock with its MLP. All attention goes through the fused scaled_dot_product_attention op
// (flash kernels on CUDA), except attention-probability dropout in training, which needs the matrix.
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/norm.h"

namespace kiln {

// torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first) without kdim/vdim,
// add_bias_kv, add_zero_attn or masks other than causal. Parameters in PyTorch's order and init:
// in_proj_weight [3E, E] (xavier_uniform_), in_proj_bias [3E] (zeros), out_proj.weight [E, E] (Linear's
// default init), out_proj.bias [E] (zeros). Inputs are [L, N, E] ([N, L, E] with batch_first) or
// unbatched [L, E]; key and value have S positions.
//   q, k, v = x_q·W_qᵀ + b_q, x_k·W_kᵀ + b_k, x_v·W_vᵀ + b_v split into heads [N, H, ·, E/H];
//   y = out_proj(merge_heads(softmax(q·kᵀ/√(E/H), causal mask)·v)).
// Only the output is returned: the attention weights are never formed (PyTorch's need_weights=False),
// except in training with dropout > 0, where attention dropout is applied to an explicit
// softmax(q·kᵀ·scale) built from composed ops (O(L·S) memory; eval and dropout = 0 use the fused op).
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool batch_first = false, Generator& generator = default_generator());
  // causal: query position i attends to key positions j ≤ i (PyTorch's attn_mask = triu(ones(L, S), 1)).
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value, bool causal = false);
  Tensor operator()(const Tensor& query, const Tensor& key, const Tensor& value, bool causal = false) {
    return forward(query, key, value, causal);
  }

  int64_t embed_dim, num_heads, head_dim;
  double dropout;
  bool batch_first;
  Tensor in_proj_weight, in_proj_bias;  // in_proj_bias undefined without bias
  std::shared_ptr<Linear> out_proj;

 private:
  // bool [L, S], true where key j > query i: the mask of the composed path (dropout in training).
  const Tensor& causal_mask(int64_t L, int64_t S, Device device);
  Generator* generator_;
  Tensor causal_mask_;
};

// Causal self-attention over x [B, T, E] with one fused input projection, as nanoGPT: submodules qkv
// (Linear E→3E; its output splits into q, k, v in that order) and proj (Linear E→E).
//   q, k, v = split(qkv(x)) in heads [B, H, T, E/H]; y = dropout(proj(merge_heads(sdpa(q, k, v, causal))))
// The dropout (p = dropout) is on the output ("residual dropout"); there is no attention-probability
// dropout, so the fused flash path is always used.
class CausalSelfAttention : public UnaryModule {
 public:
  CausalSelfAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                      Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim;
  std::shared_ptr<Linear> qkv, proj;
  std::shared_ptr<Dropout> resid_dropout;
};

// The MLP of a transformer block: y = dropout(fc2(gelu(fc(x)))) with the exact (erf) GELU; submodules
// fc (E→hidden), gelu, fc2 (hidden→E), dropout.
class TransformerMLP : public UnaryModule {
 public:
  TransformerMLP(int64_t embed_dim, int64_t hidden_dim, double dropout = 0.0,
                 Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Linear> fc, fc2;
  std::shared_ptr<GELU> gelu;
  std::shared_ptr<Dropout> dropout;
};

// A pre-LayerNorm transformer block (GPT-2 / nanoGPT) over x [B, T, E]:
//   x = x + attn(ln1(x)) ; x = x + mlp(ln2(x))
// with submodules ln1 (LayerNorm(E)), attn (CausalSelfAttention), ln2 (LayerNorm(E)) and mlp
// (TransformerMLP with hidden = int(E·mlp_ratio)), so its state dict names are "ln1.weight",
// "attn.qkv.weight", "mlp.fc2.bias", ...
class TransformerBlock : public UnaryModule {
 public:
  TransformerBlock(int64_t embed_dim, int64_t num_heads, double mlp_ratio = 4.0, double dropout = 0.0,
                   Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;

  int64_t embed_dim;
  std::shared_ptr<LayerNorm> ln1, ln2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<TransformerMLP> mlp;
};

}  // namespace kiln
