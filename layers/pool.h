// Pooling and resizing layers as torch.nn: MaxPool2d, AvgPool2d (stride defaults to kernel_size) and Upsample
// (nearest, by scale_factor or size). ceil_mode is not supported (the functional ops have none).
#pragma once
#include <optional>

#include "layers/module.h"
#include "layers/size2.h"

namespace kiln {

class MaxPool2d : public UnaryModule {
 public:
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     Size2 dilation = 1);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size2 kernel_size, stride, padding, dilation;
};

class AvgPool2d : public UnaryModule {
 public:
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Size2 kernel_size, stride, padding;
  bool count_include_pad;
};

// Nearest-neighbour upsampling of [N, C, H, W], as torch.nn.Upsample(mode='nearest'). With scale_factor the
// output is floor(in·scale) and the source index floor(dst/scale) (PyTorch's float32 arithmetic, for
// non-integer factors too); with size, the source index is floor(dst·in/out).
class Upsample : public UnaryModule {
 public:
  explicit Upsample(double scale_factor);
  Upsample(double scale_h, double scale_w);
  explicit Upsample(Size2 size);  // Upsample(Size2{8, 8}); a plain number means a scale factor
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  std::optional<Size2> size;
  std::optional<std::pair<double, double>> scale_factor;
};

}  // namespace kiln
