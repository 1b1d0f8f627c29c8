#include "models/rnn_vae.h"

#include "core/error.h"
#include "core/ops/ops.h"
#include "core/shape.h"

namespace kiln::models {

RnnVAE::RnnVAE(const RnnVaeConfig& c, Generator& g) : Module("RnnVAE"), config(c) {
  KILN_CHECK(c.vocab >= 1 && c.embed >= 1 && c.hidden >= 1 && c.latent >= 1, "RnnVAE: sizes must be positive");
  const RNNOptions one_layer{.batch_first = true};
  emb = register_module("emb", std::make_shared<Embedding>(c.vocab, c.embed, std::nullopt, g));
  encoder = register_module("encoder", std::make_shared<LSTM>(c.embed, c.hidden, one_layer, g));
  mu = register_module("mu", std::make_shared<Linear>(c.hidden, c.latent, true, g));
  lv = register_module("lv", std::make_shared<Linear>(c.hidden, c.latent, true, g));
  z_to_h = register_module("z_to_h", std::make_shared<Linear>(c.latent, c.hidden, true, g));
  decoder = register_module("decoder", std::make_shared<LSTM>(c.embed, c.hidden, one_layer, g));
  head = register_module("head", std::make_shared<Linear>(c.hidden, c.vocab, true, g));
}

// h_T = LSTM_enc(emb(ids)).h_n ;  μ = W_μ·h_T + b ;  log σ² = clamp(W_lv·h_T + b, −30, 20)
std::pair<Tensor, Tensor> RnnVAE::encode(const Tensor& ids) {
  KILN_CHECK(ids.dim() == 2 && ids.dtype() == DType::Int64, "RnnVAE: ids must be int64 [B, T], got ",
             shape_str(ids.shape()));
  Tensor h = encoder->forward(emb->forward(ids)).h_n.select(0, 0);  // [B, H]
  return {mu->forward(h), clamp(lv->forward(h), -30.0, 20.0)};
}

// h₀ = tanh(W·z + b), c₀ = 0 ;  logits = head(LSTM_dec(emb(inputs); h₀, c₀).output)
Tensor RnnVAE::decode(const Tensor& z, const Tensor& inputs) {
  KILN_CHECK(z.dim() == 2 && z.size(1) == config.latent && inputs.dim() == 2 && inputs.size(0) == z.size(0),
             "RnnVAE: decode takes z [B, ", config.latent, "] and inputs [B, T], got ", shape_str(z.shape()), " and ",
             shape_str(inputs.shape()));
  Tensor h0 = tanh(z_to_h->forward(z)).unsqueeze(0);  // [1, B, H]
  Tensor c0 = zeros(h0.shape(), {.dtype = h0.dtype(), .device = h0.device()});
  return head->forward(decoder->forward(emb->forward(inputs), h0, c0).output);
}

}  // namespace kiln::models
