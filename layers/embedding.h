// Embedding: a lookup table weight [num_embeddings, embedding_dim] ~ N(0, 1), as torch.nn.Embedding; the
// padding_idx row starts at zero and receives no gradient.
#pragma once
#include <optional>

#include "core/random.h"
#include "layers/module.h"

namespace kiln {

class Embedding : public UnaryModule {
 public:
  // A negative padding_idx counts from the end, as in PyTorch.
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            Generator& generator = default_generator());
  Tensor forward(const Tensor& indices) override;  // int64 indices of any shape → [..., embedding_dim]
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // stored non-negative
  Tensor weight;
};

}  // namespace kiln
