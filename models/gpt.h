// GPT: a decoder-only Transformer language model (Radford et al., 2018/2019), pre-LayerNorm, causal
// self-attention, GELU MLP ×4, learned position embeddings, an untied output head without bias: the
// GPT of shared/anchors/torch_anchors.py, with its parameter names ("wte.weight", "wpe.weight",
// "blocks.0.ln1.weight", "blocks.0.attn.qkv.weight", ..., "lnf.weight", "head.weight").
#pragma once
#include "core/random.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/sequential.h"

namespace kiln::models {

struct GptConfig {
  int64_t vocab = 65;
  int64_t context = 256;  // the longest sequence (position embeddings)
  int64_t layers = 6;
  int64_t heads = 6;
  int64_t width = 384;
  double dropout = 0.0;
};

class GPT : public UnaryModule {
 public:
  explicit GPT(const GptConfig& config = {}, Generator& generator = default_generator());
  // Token ids [B, T] (int64, T ≤ context) → next-token logits [B, T, vocab].
  Tensor forward(const Tensor& ids) override;

  const GptConfig config;
  std::shared_ptr<Embedding> wte, wpe;
  std::shared_ptr<Sequential> blocks;
  std::shared_ptr<LayerNorm> lnf;
  std::shared_ptr<Linear> head;
};

}  // namespace kiln::models
