// Normalization layers: buffers and parameters as PyTorch registers them; forwards through ops/norm.
#include "layers/norm.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

BatchNormBase::BatchNormBase(const char* type_name, int64_t features, const BatchNormOptions& opts)
    : UnaryModule(type_name), num_features(features), options(opts) {
  KILN_CHECK(num_features > 0, type_name, ": num_features must be positive, got ", num_features);
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
  }
}

// PyTorch's _BatchNorm.forward: count the batch, pick the averaging factor, use batch statistics when
// training or when no running statistics are kept. The count stays on the tensor's device (an int64
// add, no host sync), so a training step never waits for the GPU here.
Tensor BatchNormBase::forward(const Tensor& x) {
  check_input_dim(x);
  KILN_CHECK(x.size(1) == num_features, type_name(), ": input has ", x.size(1), " channels (shape ",
             shape_str(x.shape()), "), expected num_features = ", num_features);
  const bool update_stats = training_ && options.track_running_stats;
  if (update_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(ones({}, num_batches_tracked.options()));
  }
  const bool use_batch_stats = training_ || !options.track_running_stats;
  if (!update_stats || options.momentum)
    return batch_norm(x, weight, bias, running_mean, running_var, use_batch_stats, options.momentum.value_or(0.0),
                      options.eps);

  // momentum = None, a cumulative average: r ← (1 − f)·r + f·stat with f = 1/num_batches_tracked. The factor
  // is computed on the device: the op updates zeroed temporaries with momentum 1, which leaves exactly the
  // batch statistics in them (mean, and the unbiased variance), and the blend is done here with f as a tensor.
  Tensor batch_mean = zeros_like(running_mean), batch_var = zeros_like(running_var);
  Tensor y = batch_norm(x, weight, bias, batch_mean, batch_var, true, 1.0, options.eps);
  NoGradGuard no_grad;
  Tensor f = reciprocal(to_dtype(num_batches_tracked, running_mean.dtype()));
  Tensor keep = 1.0 - f;
  running_mean.copy_(running_mean * keep + batch_mean * f);
  running_var.copy_(running_var * keep + batch_var * f);
  return y;
}

std::string BatchNormBase::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + repr::py_float(options.eps) +
         ", momentum=" + (options.momentum ? repr::py_float(*options.momentum) : "None") +
         ", affine=" + repr::py_bool(options.affine) +
         ", track_running_stats=" + repr::py_bool(options.track_running_stats);
}

void BatchNorm1d::check_input_dim(const Tensor& x) const {
  KILN_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got ", x.dim(), "D input of shape ",
             shape_str(x.shape()), ")");
}

void BatchNorm2d::check_input_dim(const Tensor& x) const {
  KILN_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D input (got ", x.dim(), "D input of shape ",
             shape_str(x.shape()), ")");
}

LayerNorm::LayerNorm(Shape shape, double epsilon, bool affine, bool with_bias)
    : UnaryModule("LayerNorm"), normalized_shape(std::move(shape)), eps(epsilon), elementwise_affine(affine) {
  KILN_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape is empty");
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    if (with_bias) bias = register_parameter("bias", zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  return repr::py_tuple(normalized_shape) + ", eps=" + repr::py_float(eps) +
         ", elementwise_affine=" + repr::py_bool(elementwise_affine);
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double epsilon, bool with_affine)
    : UnaryModule("GroupNorm"), num_groups(groups), num_channels(channels), eps(epsilon), affine(with_affine) {
  KILN_CHECK(num_groups > 0 && num_channels > 0, "GroupNorm: num_groups and num_channels must be positive, got ",
             num_groups, " and ", num_channels);
  KILN_CHECK(num_channels % num_groups == 0, "GroupNorm: num_channels (", num_channels,
             ") must be divisible by num_groups (", num_groups, ")");
  if (affine) {
    weight = register_parameter("weight", ones({num_channels}));
    bias = register_parameter("bias", zeros({num_channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: input has shape ", shape_str(x.shape()),
             ", expected [N, ", num_channels, ", ...]");
  return group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) + ", eps=" + repr::py_float(eps) +
         ", affine=" + repr::py_bool(affine);
}

}  // namespace kiln
