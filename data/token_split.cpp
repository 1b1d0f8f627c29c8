#include "data/token_split.h"

namespace kiln::data {

std::pair<Tensor, Tensor> split_tokens(const std::vector<int64_t>& ids, double validation_fraction) {
  const size_t n_train = size_t(double(ids.size()) * (1.0 - validation_fraction));
  auto part = [&](size_t begin, size_t end) {
    return from_vector(std::vector<int64_t>(ids.begin() + int64_t(begin), ids.begin() + int64_t(end)),
                       {int64_t(end - begin)}, {.dtype = DType::Int64});
  };
  return {part(0, n_train), part(n_train, ids.size())};
}

}  // namespace kiln::data
