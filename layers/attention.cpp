// Attention layers: MultiheadAttention, CausalSelfAttention, TransformerMLP and TransformerBlock, built
// from the functional ops (linear, views, scaled_dot_product_attention, layer_norm, gelu, dropout).
#include "layers/attention.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {
namespace {

void check_heads(const char* layer, int64_t embed_dim, int64_t num_heads) {
  KILN_CHECK(embed_dim > 0 && num_heads > 0, layer, ": embed_dim and num_heads must be positive, got ", embed_dim,
             " and ", num_heads);
  KILN_CHECK(embed_dim % num_heads == 0, layer, ": embed_dim (", embed_dim, ") must be divisible by num_heads (",
             num_heads, ")");
}

void check_probability(const char* layer, double p) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, layer, ": dropout probability has to be between 0 and 1, but got ", p);
}

// [N, T, E] → [N, H, T, E/H] (a view of x, whatever x's strides allow, else a copy).
Tensor split_heads(const Tensor& x, int64_t num_heads) {
  const int64_t N = x.size(0), T = x.size(1), E = x.size(2);
  return transpose(reshape(x, {N, T, num_heads, E / num_heads}), 1, 2);
}

// [N, H, T, D] → [N, T, H·D].
Tensor merge_heads(const Tensor& x) {
  const int64_t N = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  return reshape(transpose(x, 1, 2), {N, T, H * D});
}

// softmax(q·kᵀ·scale, causal mask) with dropout on the probabilities, times v: the composed (materialized)
// attention, used only in training with attention dropout. q [N, H, L, D], k [N, H, S, D], v [N, H, S, Dv];
// mask: bool [L, S], true where a key is hidden (or undefined: no mask).
Tensor attention_with_dropout(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double p,
                              Generator& generator) {
  Tensor scores = mul(matmul(q, transpose(k, -2, -1)), 1.0 / std::sqrt(double(q.size(3))));
  if (mask.defined()) scores = masked_fill(scores, mask, -std::numeric_limits<double>::infinity());
  return matmul(dropout(softmax(scores, -1), p, true, generator), v);
}

}  // namespace

// ----------------------------------------------------------------- MultiheadAttention

MultiheadAttention::MultiheadAttention(int64_t embed, int64_t heads, double p, bool bias, bool batch_first_,
                                       Generator& generator)
    : Module("MultiheadAttention"),
      embed_dim(embed),
      num_heads(heads),
      head_dim(0),
      dropout(p),
      batch_first(batch_first_),
      generator_(&generator) {
  check_heads("MultiheadAttention", embed_dim, num_heads);
  check_probability("MultiheadAttention", dropout);
  head_dim = embed_dim / num_heads;
  // PyTorch's order: out_proj is built (Linear's init) before _reset_parameters() draws in_proj_weight.
  auto projection = std::make_shared<Linear>(embed_dim, embed_dim, bias, generator);
  // xavier_uniform_: bound = √(6 / (fan_in + fan_out)) with fan_in = E, fan_out = 3E.
  const double bound = std::sqrt(6.0 / double(embed_dim + 3 * embed_dim));
  in_proj_weight =
      register_parameter("in_proj_weight", uniform({3 * embed_dim, embed_dim}, -bound, bound, {}, generator));
  if (bias) {
    in_proj_bias = register_parameter("in_proj_bias", zeros({3 * embed_dim}));
    NoGradGuard no_grad;
    projection->bias.zero_();
  }
  out_proj = register_module("out_proj", projection);
}

Tensor MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value, bool causal) {
  KILN_CHECK(query.defined() && key.defined() && value.defined(), "MultiheadAttention: query, key and value are required");
  KILN_CHECK((query.dim() == 2 || query.dim() == 3) && key.dim() == query.dim() && value.dim() == query.dim(),
             "MultiheadAttention: query, key and value must all be 3-D (batched) or all 2-D (unbatched), got shapes ",
             shape_str(query.shape()), ", ", shape_str(key.shape()), " and ", shape_str(value.shape()));
  KILN_CHECK(query.size(-1) == embed_dim && key.size(-1) == embed_dim && value.size(-1) == embed_dim,
             "MultiheadAttention: the last dim of query, key and value must be embed_dim = ", embed_dim, ", got shapes ",
             shape_str(query.shape()), ", ", shape_str(key.shape()), " and ", shape_str(value.shape()));
  KILN_CHECK(key.shape() == value.shape(), "MultiheadAttention: key shape ", shape_str(key.shape()),
             " does not match value shape ", shape_str(value.shape()));
  const bool batched = query.dim() == 3;
  const int64_t batch_dim = batch_first ? 0 : 1;
  KILN_CHECK(!batched || query.size(batch_dim) == key.size(batch_dim), "MultiheadAttention: query has batch size ",
             batched ? query.size(batch_dim) : 0, " but key and value have ", batched ? key.size(batch_dim) : 0,
             " (batch_first = ", batch_first ? "true" : "false", ")");
  // everything as [N, T, E]
  auto batch_major = [&](const Tensor& x) {
    if (!batched) return unsqueeze(x, 0);
    return batch_first ? x : transpose(x, 0, 1);
  };
  // rows [part·E, (part+1)·E) of in_proj_weight and in_proj_bias: W_q, W_k, W_v
  auto project = [&](const Tensor& x, int64_t part) {
    Tensor b = in_proj_bias.defined() ? narrow(in_proj_bias, 0, part * embed_dim, embed_dim) : Tensor();
    return linear(x, narrow(in_proj_weight, 0, part * embed_dim, embed_dim), b);
  };
  Tensor q = split_heads(project(batch_major(query), 0), num_heads);
  Tensor k = split_heads(project(batch_major(key), 1), num_heads);
  Tensor v = split_heads(project(batch_major(value), 2), num_heads);
  Tensor attended = training_ && dropout > 0.0
                        ? attention_with_dropout(q, k, v, causal ? causal_mask(q.size(2), k.size(2), q.device()) : Tensor(),
                                                 dropout, *generator_)
                        : scaled_dot_product_attention(q, k, v, causal);
  Tensor out = out_proj->forward(merge_heads(attended));  // [N, L, E]
  if (!batched) return squeeze(out, 0);
  return batch_first ? out : transpose(out, 0, 1);
}

// Built on the host once per (L, S, device) and kept, so that training steps copy nothing to the device.
const Tensor& MultiheadAttention::causal_mask(int64_t L, int64_t S, Device device) {
  if (!causal_mask_.defined() || causal_mask_.shape() != Shape{L, S} || causal_mask_.device() != device) {
    std::vector<double> hidden(size_t(L * S));
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < S; ++j) hidden[size_t(i * S + j)] = j > i ? 1.0 : 0.0;  // top-left aligned, as the fused op
    causal_mask_ = ne(from_vector(hidden, {L, S}, {.dtype = DType::Float64}), 0.0).to(device);
  }
  return causal_mask_;
}

// ----------------------------------------------------------------- CausalSelfAttention

CausalSelfAttention::CausalSelfAttention(int64_t embed, int64_t heads, double p, bool bias, Generator& generator)
    : UnaryModule("CausalSelfAttention"), embed_dim(embed), num_heads(heads), head_dim(0) {
  check_heads("CausalSelfAttention", embed_dim, num_heads);
  check_probability("CausalSelfAttention", p);
  head_dim = embed_dim / num_heads;
  qkv = register_module("qkv", std::make_shared<Linear>(embed_dim, 3 * embed_dim, bias, generator));
  proj = register_module("proj", std::make_shared<Linear>(embed_dim, embed_dim, bias, generator));
  resid_dropout = register_module("resid_dropout", std::make_shared<Dropout>(p, generator));
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 3 && x.size(2) == embed_dim, "CausalSelfAttention: expected input [B, T, embed_dim = ",
             embed_dim, "], got shape ", shape_str(x.shape()));
  std::vector<Tensor> parts = split(qkv->forward(x), embed_dim, 2);  // q, k, v: views [B, T, E]
  Tensor y = scaled_dot_product_attention(split_heads(parts[0], num_heads), split_heads(parts[1], num_heads),
                                          split_heads(parts[2], num_heads), /*causal=*/true);
  return resid_dropout->forward(proj->forward(merge_heads(y)));
}

std::string CausalSelfAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads);
}

// ----------------------------------------------------------------- TransformerMLP and TransformerBlock

TransformerMLP::TransformerMLP(int64_t embed_dim, int64_t hidden_dim, double p, Generator& generator)
    : UnaryModule("TransformerMLP") {
  KILN_CHECK(embed_dim > 0 && hidden_dim > 0, "TransformerMLP: embed_dim and hidden_dim must be positive, got ",
             embed_dim, " and ", hidden_dim);
  check_probability("TransformerMLP", p);
  fc = register_module("fc", std::make_shared<Linear>(embed_dim, hidden_dim, true, generator));
  gelu = register_module("gelu", std::make_shared<GELU>(GeluApproximation::None));
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden_dim, embed_dim, true, generator));
  dropout = register_module("dropout", std::make_shared<Dropout>(p, generator));
}

Tensor TransformerMLP::forward(const Tensor& x) {
  return dropout->forward(fc2->forward(gelu->forward(fc->forward(x))));
}

TransformerBlock::TransformerBlock(int64_t embed, int64_t num_heads, double mlp_ratio, double p,
                                   Generator& generator)
    : UnaryModule("TransformerBlock"), embed_dim(embed) {
  check_heads("TransformerBlock", embed_dim, num_heads);
  const double hidden = double(embed_dim) * mlp_ratio;
  KILN_CHECK(hidden >= 1.0 && std::isfinite(hidden), "TransformerBlock: mlp_ratio ", mlp_ratio,
             " gives no hidden units for embed_dim ", embed_dim);
  ln1 = register_module("ln1", std::make_shared<LayerNorm>(Shape{embed_dim}));
  attn = register_module("attn", std::make_shared<CausalSelfAttention>(embed_dim, num_heads, p, true, generator));
  ln2 = register_module("ln2", std::make_shared<LayerNorm>(Shape{embed_dim}));
  mlp = register_module("mlp", std::make_shared<TransformerMLP>(embed_dim, int64_t(hidden), p, generator));
}

Tensor TransformerBlock::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 3 && x.size(2) == embed_dim, "TransformerBlock: expected input [B, T, embed_dim = ",
             embed_dim, "], got shape ", shape_str(x.shape()));
  Tensor h = add(x, attn->forward(ln1->forward(x)));
  return add(h, mlp->forward(ln2->forward(h)));
}

}  // namespace kiln
