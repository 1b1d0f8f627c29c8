// The sentences the sentence VAE (kiln train rnnvae, models/rnn_vae.h) reads and writes: every line of 8
// to max_len symbols of a text corpus, as fixed-length rows with special tokens after the corpus's
// byte vocabulary; the validation loss (negative ELBO per sentence); and decoding a latent code to text.
#pragma once
#include <cstdint>
#include <string>

#include "apps/token_data.h"
#include "core/random.h"
#include "models/rnn_vae.h"

namespace kiln::apps {

// The special tokens come after the corpus's byte vocabulary.
struct Specials {
  int64_t pad, bos, eos, unk, vocab;
  explicit Specials(int64_t corpus_vocab)
      : pad(corpus_vocab), bos(corpus_vocab + 1), eos(corpus_vocab + 2), unk(corpus_vocab + 3), vocab(corpus_vocab + 4) {}
};

// Sentences as rows of T = max_len + 1 tokens: targets (s₁…sₙ EOS PAD…) and decoder inputs (BOS s₁…sₙ PAD…).
struct Sentences {
  Tensor targets, inputs;  // int64 [N, T]
  int64_t count = 0;
};
// `part` ("training" or "validation") and `corpus` (the data's description, naming its file) name the stream
// in the error when it has no usable line.
Sentences sentences_of(const Tensor& stream, int64_t newline, int64_t max_len, const Specials& sp, const char* part,
                       const std::string& corpus);

// The validation loss per sentence over the first `max_count` sentences, in batches of 512: the
// reconstruction cross-entropy at z = μ + σ·ε (ε from `noise`) plus the KL term (returned in `kl`).
double sentence_vae_loss(models::RnnVAE& vae, const Sentences& sentences, const Specials& sp, int64_t max_count,
                         Device device, Generator& noise, double* kl);

// Decodes one sentence from a latent code z [1, latent]: each next symbol drawn at `temperature` (corpus
// symbols and EOS only) until EOS or max_len symbols.
std::string decode_sentence(models::RnnVAE& vae, const Tensor& z, const TokenData& data, const Specials& sp,
                            int64_t max_len, double temperature, Device device, Generator& g);

}  // namespace kiln::apps
