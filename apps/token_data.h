// The token streams the sequence models train on: text (bytes of a corpus, Debian's fortunes by
// default) or music (MIDI event tokens, Debian's MIDI packages by default), and random training
// windows drawn from them.
#pragma once
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "data/text_corpus.h"

namespace kiln::apps {

struct TokenData {
  std::string corpus;          // "text" or "music"
  Tensor train, validation;    // int64 token ids (CPU)
  int64_t vocab = 0;
  data::TextCorpus text;       // the byte vocabulary, for text
  std::string description;     // e.g. "fortunes (2,576,674 bytes, 114 symbols)"
};

TokenData load_token_data(const std::string& corpus, const std::string& path);

// B windows of T + 1 consecutive tokens at random offsets: inputs [B, T] and next-token targets [B, T].
std::pair<Tensor, Tensor> random_windows(const Tensor& stream, int64_t batch, int64_t length, Generator& generator);

}  // namespace kiln::apps
