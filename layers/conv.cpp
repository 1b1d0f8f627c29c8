// Conv2d and ConvTranspose2d: argument checks, PyTorch's initialization, forwards through the functional ops.
#include "layers/conv.h"

#include <cmath>

#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln {

namespace {

void check_conv_args(const char* layer, int64_t in_channels, int64_t out_channels, Size2 kernel, int64_t groups) {
  KILN_CHECK(in_channels > 0 && out_channels > 0, layer, ": in_channels and out_channels must be positive, got ",
             in_channels, " and ", out_channels);
  KILN_CHECK(kernel.h > 0 && kernel.w > 0, layer, ": kernel_size must be positive, got ", kernel.str());
  KILN_CHECK(groups > 0, layer, ": groups must be positive, got ", groups);
  KILN_CHECK(in_channels % groups == 0, layer, ": in_channels (", in_channels, ") must be divisible by groups (",
             groups, ")");
  KILN_CHECK(out_channels % groups == 0, layer, ": out_channels (", out_channels,
             ") must be divisible by groups (", groups, ")");
}

// kaiming_uniform(a=√5) on the weight and PyTorch's bias rule both give U(−1/√fan_in, 1/√fan_in),
// fan_in = weight.size(1)·kH·kW (for ConvTranspose2d that is C_out/groups, as PyTorch computes it).
void init_conv(Module& m, Tensor& weight, Tensor& bias, const Shape& weight_shape, int64_t out_channels,
               bool with_bias, Generator& generator) {
  const double fan_in = double(weight_shape[1] * weight_shape[2] * weight_shape[3]);
  const double bound = 1.0 / std::sqrt(fan_in);
  weight = m.register_parameter("weight", uniform(weight_shape, -bound, bound, {}, generator));
  if (with_bias) bias = m.register_parameter("bias", uniform({out_channels}, -bound, bound, {}, generator));
}

void check_input(const char* layer, const Tensor& x, int64_t in_channels) {
  KILN_CHECK(x.dim() == 4, layer, ": expected a 4-D input [N, C, H, W], got shape ", shape_str(x.shape()));
  KILN_CHECK(x.size(1) == in_channels, layer, ": input has ", x.size(1), " channels (shape ", shape_str(x.shape()),
             "), expected in_channels = ", in_channels);
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, Size2 kernel, const Conv2dOptions& opts, Generator& generator)
    : UnaryModule("Conv2d"), in_channels(in), out_channels(out), kernel_size(kernel), options(opts) {
  check_conv_args("Conv2d", in_channels, out_channels, kernel_size, options.groups);
  init_conv(*this, weight, bias, {out_channels, in_channels / options.groups, kernel_size.h, kernel_size.w},
            out_channels, options.bias, generator);
}

Tensor Conv2d::forward(const Tensor& x) {
  check_input("Conv2d", x, in_channels);
  return conv2d(x, weight, bias, options.stride.pair(), options.padding.pair(), options.dilation.pair(),
                options.groups);
}

// PyTorch's _ConvNd.extra_repr: non-default settings only (besides kernel_size and stride).
std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + kernel_size.str() + ", stride=" + options.stride.str();
  if (!(options.padding == Size2(0))) s += ", padding=" + options.padding.str();
  if (!(options.dilation == Size2(1))) s += ", dilation=" + options.dilation.str();
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 kernel, const ConvTranspose2dOptions& opts,
                                 Generator& generator)
    : UnaryModule("ConvTranspose2d"), in_channels(in), out_channels(out), kernel_size(kernel), options(opts) {
  check_conv_args("ConvTranspose2d", in_channels, out_channels, kernel_size, options.groups);
  const Size2 s = options.stride, d = options.dilation, op = options.output_padding;
  KILN_CHECK((op.h < s.h || op.h < d.h) && (op.w < s.w || op.w < d.w), "ConvTranspose2d: output_padding ", op.str(),
             " must be smaller than either stride ", s.str(), " or dilation ", d.str());
  init_conv(*this, weight, bias, {in_channels, out_channels / options.groups, kernel_size.h, kernel_size.w},
            out_channels, options.bias, generator);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input("ConvTranspose2d", x, in_channels);
  return conv_transpose2d(x, weight, bias, options.stride.pair(), options.padding.pair(),
                          options.output_padding.pair(), options.groups, options.dilation.pair());
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + kernel_size.str() + ", stride=" + options.stride.str();
  if (!(options.padding == Size2(0))) s += ", padding=" + options.padding.str();
  if (!(options.dilation == Size2(1))) s += ", dilation=" + options.dilation.str();
  if (!(options.output_padding == Size2(0))) s += ", output_padding=" + options.output_padding.str();
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

}  // namespace kiln
