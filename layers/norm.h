// Normalization layers as torch.nn: BatchNorm1d/2d (running statistics as buffers, num_batches_tracked int64),
// LayerNorm and GroupNorm. Affine weights start at 1 and biases at 0.
#pragma once
#include <optional>

#include "layers/module.h"

namespace kiln {

struct BatchNormOptions {
  double eps = 1e-5;
  // None (std::nullopt) means a cumulative moving average: factor 1/num_batches_tracked, as PyTorch.
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// The shared body of BatchNorm1d and BatchNorm2d; they differ in the input ranks they accept.
class BatchNormBase : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;                                      // undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;    // undefined without track_running_stats

 protected:
  BatchNormBase(const char* type_name, int64_t num_features, const BatchNormOptions& options);
  virtual void check_input_dim(const Tensor& x) const = 0;
};

class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t features, const BatchNormOptions& opts = {})
      : BatchNormBase("BatchNorm1d", features, opts) {}

 protected:
  void check_input_dim(const Tensor& x) const override;  // [N, C] or [N, C, L]
};

class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t features, const BatchNormOptions& opts = {})
      : BatchNormBase("BatchNorm2d", features, opts) {}

 protected:
  void check_input_dim(const Tensor& x) const override;  // [N, C, H, W]
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;
};

class GroupNorm : public UnaryModule {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor weight, bias;
};

}  // namespace kiln
