// Linear: construction with PyTorch's initialization, and the forward through ops::linear.
#include "layers/linear.h"

#include <cmath>

#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& generator)
    : UnaryModule("Linear"), in_features(in), out_features(out) {
  KILN_CHECK(in_features > 0 && out_features > 0, "Linear: in_features and out_features must be positive, got ",
             in_features, " and ", out_features);
  // kaiming_uniform(a=√5): bound = gain·√(3/fan_in), gain = √(2/(1+a²)) = √(1/3) ⇒ bound = 1/√fan_in.
  const double bound = 1.0 / std::sqrt(double(in_features));
  weight = register_parameter("weight", uniform({out_features, in_features}, -bound, bound, {}, generator));
  if (with_bias) bias = register_parameter("bias", uniform({out_features}, -bound, bound, {}, generator));
}

Tensor Linear::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: input has shape ", shape_str(x.shape()),
             ", expected last dim in_features = ", in_features);
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + repr::py_bool(bias.defined());
}

}  // namespace kiln
