// Conv2d and ConvTranspose2d as torch.nn: hyperparameters, weight layouts ([C_out, C_in/groups, kH, kW] and
// [C_in, C_out/groups, kH, kW]) and default initialization (kaiming_uniform(a=√5) ⇒ U(−1/√fan_in, 1/√fan_in)
// with fan_in = weight.size(1)·kH·kW, for the weight and the bias alike).
#pragma once
#include "core/random.h"
#include "layers/module.h"
#include "layers/size2.h"

namespace kiln {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public UnaryModule {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const Conv2dOptions& options = {},
         Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};

class ConvTranspose2d : public UnaryModule {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size,
                  const ConvTranspose2dOptions& options = {}, Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight, bias;
};

}  // namespace kiln
