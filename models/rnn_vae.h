// RNN-VAE for sentences (Bowman et al., 2016, "Generating sentences from a continuous space"), at the
// character level: an LSTM encoder reads the sentence, its last hidden state gives μ and log σ² of the
// latent code z; the LSTM decoder starts from h₀ = tanh(W·z + b) and predicts the sentence one symbol
// at a time from [BOS, s₁, …, sₙ₋₁] (teacher forcing). Bowman's two fixes against the decoder ignoring z
// are in the training loop: KL annealing (the KL term's weight rises from 0 to 1) and word dropout
// (decoder inputs replaced by UNK with probability p). Parameter names: "emb", "encoder", "mu", "lv",
// "z_to_h", "decoder", "head".
#pragma once
#include "core/random.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/rnn.h"

namespace kiln::models {

struct RnnVaeConfig {
  int64_t vocab = 100;  // including the special tokens below
  int64_t embed = 64;
  int64_t hidden = 256;
  int64_t latent = 32;
};

class RnnVAE : public Module {
 public:
  explicit RnnVAE(const RnnVaeConfig& config = {}, Generator& generator = default_generator());

  // ids [B, T] → (μ, log σ²) [B, latent] (log σ² clamped to [−30, 20]); lengths are all T (padding is
  // part of the sequence, as in the reference implementations that pad to a fixed length).
  std::pair<Tensor, Tensor> encode(const Tensor& ids);
  // Next-symbol logits [B, T, vocab] for decoder inputs [B, T] from latent codes z [B, latent].
  Tensor decode(const Tensor& z, const Tensor& inputs);

  const RnnVaeConfig config;
  std::shared_ptr<Embedding> emb;
  std::shared_ptr<LSTM> encoder, decoder;
  std::shared_ptr<Linear> mu, lv, z_to_h, head;
};

}  // namespace kiln::models
