// char-RNN (Karpathy, 2015): embedding → multi-layer LSTM → linear head, predicting the next symbol
// (byte of text or MIDI event token). The CharLSTM of shared/anchors/torch_anchors.py with its parameter
// names ("emb.weight", "rnn.weight_ih_l0", ..., "head.weight").
#pragma once
#include "core/random.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/rnn.h"

namespace kiln::models {

struct CharRnnConfig {
  int64_t vocab = 96;
  int64_t embed = 128;
  int64_t hidden = 512;
  int64_t layers = 2;
  double dropout = 0.0;  // between LSTM layers
};

class CharRNN : public UnaryModule {
 public:
  explicit CharRNN(const CharRnnConfig& config = {}, Generator& generator = default_generator());
  // ids [B, T] (int64) → logits [B, T, vocab], starting from zero states.
  Tensor forward(const Tensor& ids) override;

  const CharRnnConfig config;
  std::shared_ptr<Embedding> emb;
  std::shared_ptr<LSTM> rnn;
  std::shared_ptr<Linear> head;
};

}  // namespace kiln::models
