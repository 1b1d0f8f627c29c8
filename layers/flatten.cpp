// Flatten and Unflatten: views through ops::flatten and ops::reshape.
#include "layers/flatten.h"

#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

Tensor Unflatten::forward(const Tensor& x) {
  const int64_t d = wrap_dim(dim, x.dim(), "Unflatten");
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  shape.insert(shape.end(), unflattened_size.begin(), unflattened_size.end());
  shape.insert(shape.end(), x.shape().begin() + d + 1, x.shape().end());
  int64_t known = 1, inferred = 0;
  for (int64_t s : unflattened_size) {
    if (s == -1) ++inferred;
    else known *= s;
  }
  KILN_CHECK(inferred <= 1 && (inferred ? known > 0 && x.size(d) % known == 0 : known == x.size(d)),
             "Unflatten: unflattened_size ", repr::py_tuple(unflattened_size), " does not fit dim ", dim,
             " of size ", x.size(d), " (input shape ", shape_str(x.shape()), ")");
  return reshape(x, shape);
}

std::string Unflatten::extra_repr() const {
  return "dim=" + std::to_string(dim) + ", unflattened_size=" + repr::py_tuple(unflattened_size);
}

}  // namespace kiln
