#include "models/gpt.h"

#include "core/error.h"
#include "core/ops/ops.h"
#include "core/shape.h"

namespace kiln::models {

GPT::GPT(const GptConfig& c, Generator& g) : UnaryModule("GPT"), config(c) {
  KILN_CHECK(c.vocab >= 1 && c.context >= 1 && c.layers >= 0 && c.heads >= 1 && c.width >= 1,
             "GPT: vocab, context, heads and width must be positive and layers ≥ 0");
  KILN_CHECK(c.width % c.heads == 0, "GPT: width ", c.width, " is not a multiple of heads ", c.heads);
  wte = register_module("wte", std::make_shared<Embedding>(c.vocab, c.width, std::nullopt, g));
  wpe = register_module("wpe", std::make_shared<Embedding>(c.context, c.width, std::nullopt, g));
  blocks = register_module("blocks", std::make_shared<Sequential>());
  for (int64_t i = 0; i < c.layers; ++i) blocks->push_back(std::make_shared<TransformerBlock>(c.width, c.heads, 4.0, c.dropout, g));
  lnf = register_module("lnf", std::make_shared<LayerNorm>(Shape{c.width}));
  head = register_module("head", std::make_shared<Linear>(c.width, c.vocab, false, g));
}

// x = wte[ids] + wpe[0..T) ; x = blockₗ(x) for each layer ; logits = head(lnf(x)).
// The position term takes the first T rows of wpe directly (the same as looking up arange(T), without
// building an index tensor on the device every step).
Tensor GPT::forward(const Tensor& ids) {
  KILN_CHECK(ids.dim() == 2 && ids.dtype() == DType::Int64, "GPT: ids must be int64 [B, T], got ",
             shape_str(ids.shape()), " ", dtype_name(ids.dtype()));
  const int64_t T = ids.size(1);
  KILN_CHECK(T >= 1 && T <= config.context, "GPT: sequence length ", T, " exceeds the context of ", config.context);
  Tensor x = add(wte->forward(ids), wpe->weight.narrow(0, 0, T));
  x = blocks->forward(x);
  return head->forward(lnf->forward(x));
}

}  // namespace kiln::models
