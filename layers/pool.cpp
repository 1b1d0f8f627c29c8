// Pooling and upsampling layers: argument checks, defaults and PyTorch's repr; forwards through ops/pool.
#include "layers/pool.h"

#include <array>
#include <cmath>

#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

namespace {
void check_positive(const char* layer, const char* arg, Size2 v) {
  KILN_CHECK(v.h > 0 && v.w > 0, layer, ": ", arg, " must be positive, got ", v.str());
}
void check_4d(const char* layer, const Tensor& x) {
  KILN_CHECK(x.dim() == 4, layer, ": expected a 4-D input [N, C, H, W], got shape ", shape_str(x.shape()));
}
// PyTorch prints an int when both sides are equal and a tuple otherwise (as they were given).
std::string size_repr(Size2 v) { return v.h == v.w ? std::to_string(v.h) : v.str(); }
}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel, std::optional<Size2> step, Size2 pad, Size2 dil)
    : UnaryModule("MaxPool2d"), kernel_size(kernel), stride(step.value_or(kernel)), padding(pad), dilation(dil) {
  check_positive("MaxPool2d", "kernel_size", kernel_size);
  check_positive("MaxPool2d", "stride", stride);
  check_positive("MaxPool2d", "dilation", dilation);
  KILN_CHECK(2 * padding.h <= kernel_size.h && 2 * padding.w <= kernel_size.w && padding.h >= 0 && padding.w >= 0,
             "MaxPool2d: padding ", padding.str(), " should be at most half of kernel_size ", kernel_size.str());
}

Tensor MaxPool2d::forward(const Tensor& x) {
  check_4d("MaxPool2d", x);
  return max_pool2d(x, kernel_size.pair(), stride.pair(), padding.pair(), dilation.pair());
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + size_repr(kernel_size) + ", stride=" + size_repr(stride) + ", padding=" +
         size_repr(padding) + ", dilation=" + size_repr(dilation) + ", ceil_mode=False";
}

AvgPool2d::AvgPool2d(Size2 kernel, std::optional<Size2> step, Size2 pad, bool include_pad)
    : UnaryModule("AvgPool2d"), kernel_size(kernel), stride(step.value_or(kernel)), padding(pad),
      count_include_pad(include_pad) {
  check_positive("AvgPool2d", "kernel_size", kernel_size);
  check_positive("AvgPool2d", "stride", stride);
  KILN_CHECK(2 * padding.h <= kernel_size.h && 2 * padding.w <= kernel_size.w && padding.h >= 0 && padding.w >= 0,
             "AvgPool2d: padding ", padding.str(), " should be at most half of kernel_size ", kernel_size.str());
}

Tensor AvgPool2d::forward(const Tensor& x) {
  check_4d("AvgPool2d", x);
  return avg_pool2d(x, kernel_size.pair(), stride.pair(), padding.pair(), count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + size_repr(kernel_size) + ", stride=" + size_repr(stride) + ", padding=" +
         size_repr(padding);
}

Upsample::Upsample(double scale) : Upsample(scale, scale) {}

Upsample::Upsample(double scale_h, double scale_w)
    : UnaryModule("Upsample"), scale_factor(std::pair{scale_h, scale_w}) {
  KILN_CHECK(scale_h > 0 && scale_w > 0, "Upsample: scale_factor must be positive, got (", scale_h, ", ", scale_w, ")");
}

Upsample::Upsample(Size2 out_size) : UnaryModule("Upsample"), size(out_size) {
  check_positive("Upsample", "size", out_size);
}

Tensor Upsample::forward(const Tensor& x) {
  check_4d("Upsample", x);
  Pair out;
  std::array<double, 2> scale = {0.0, 0.0};  // none: the source index follows the sizes
  if (size) {
    out = size->pair();
  } else {
    scale = {scale_factor->first, scale_factor->second};
    out = {int64_t(std::floor(double(x.size(2)) * scale_factor->first)),
           int64_t(std::floor(double(x.size(3)) * scale_factor->second))};
    KILN_CHECK(out[0] > 0 && out[1] > 0, "Upsample: input of shape ", shape_str(x.shape()), " scaled by ",
               repr::py_float(scale_factor->first), ", ", repr::py_float(scale_factor->second), " is empty");
  }
  return upsample_nearest2d(x, out, scale);
}

std::string Upsample::extra_repr() const {
  std::string s;
  if (size) {
    s = "size=" + size_repr(*size);
  } else if (scale_factor->first == scale_factor->second) {
    s = "scale_factor=" + repr::py_float(scale_factor->first);
  } else {
    s = "scale_factor=(" + repr::py_float(scale_factor->first) + ", " + repr::py_float(scale_factor->second) + ")";
  }
  return s + ", mode='nearest'";
}

}  // namespace kiln
