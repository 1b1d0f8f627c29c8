// Embedding: N(0, 1) initialization with the padding row zeroed, forward through ops::embedding.
#include "layers/embedding.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

Embedding::Embedding(int64_t count, int64_t dim, std::optional<int64_t> padding, Generator& generator)
    : UnaryModule("Embedding"), num_embeddings(count), embedding_dim(dim) {
  KILN_CHECK(num_embeddings > 0 && embedding_dim > 0,
             "Embedding: num_embeddings and embedding_dim must be positive, got ", num_embeddings, " and ",
             embedding_dim);
  if (padding) {
    KILN_CHECK(*padding >= -num_embeddings && *padding < num_embeddings, "Embedding: padding_idx ", *padding,
               " must be within num_embeddings (", num_embeddings, ")");
    padding_idx = *padding < 0 ? *padding + num_embeddings : *padding;
  }
  Tensor w = randn({num_embeddings, embedding_dim}, {}, generator);
  if (padding_idx) w.select(0, *padding_idx).zero_();
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& indices) {
  KILN_CHECK(indices.dtype() == DType::Int64, "Embedding: indices must be int64, got ", dtype_name(indices.dtype()));
  return embedding(weight, indices, padding_idx.value_or(-1));
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace kiln
