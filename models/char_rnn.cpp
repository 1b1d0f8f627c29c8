#include "models/char_rnn.h"

#include "core/error.h"
#include "core/shape.h"

namespace kiln::models {

CharRNN::CharRNN(const CharRnnConfig& c, Generator& g) : UnaryModule("CharRNN"), config(c) {
  KILN_CHECK(c.vocab >= 1 && c.embed >= 1 && c.hidden >= 1 && c.layers >= 1,
             "CharRNN: vocab, embedding, hidden size and layers must be positive");
  emb = register_module("emb", std::make_shared<Embedding>(c.vocab, c.embed, std::nullopt, g));
  rnn = register_module("rnn", std::make_shared<LSTM>(c.embed, c.hidden,
                                                      RNNOptions{.num_layers = c.layers, .batch_first = true,
                                                                 .dropout = c.dropout},
                                                      g));
  head = register_module("head", std::make_shared<Linear>(c.hidden, c.vocab, true, g));
}

// logits = head(LSTM(emb(ids)).output)
Tensor CharRNN::forward(const Tensor& ids) {
  KILN_CHECK(ids.dim() == 2 && ids.dtype() == DType::Int64, "CharRNN: ids must be int64 [B, T], got ",
             shape_str(ids.shape()), " ", dtype_name(ids.dtype()));
  return head->forward(rnn->forward(emb->forward(ids)).output);
}

}  // namespace kiln::models
