// 2-D convolution and transposed convolution (PyTorch's F.conv2d / F.conv_transpose2d, NCHW).
// Kernels: kernels/cpu/conv (im2col + GEMM) and kernels/cuda/conv (cuDNN, else im2col + GEMM on the GPU), with
// one signature. conv_transpose2d is the adjoint of conv2d in its input, so its forward is conv2d's
// input-gradient kernel and its input gradient is conv2d's forward kernel.
#include <string>

#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/common/conv_math.h"
#include "kernels/cpu/conv.h"
#include "kernels/cuda/conv.h"

namespace kiln {
namespace {

std::string pair_str(Pair p) { return detail::concat("(", p[0], ", ", p[1], ")"); }

// The checks shared by both ops: dtypes, devices, weight rank, positive stride/dilation/groups, padding ≥ 0.
void check_common(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                  Pair dilation, int64_t groups, const char* weight_layout) {
  check_float(op, "input", x);
  check_float(op, "weight", weight);
  KILN_CHECK(x.dtype() == weight.dtype(), op, ": dtype mismatch, input is ", dtype_name(x.dtype()), " and weight is ",
             dtype_name(weight.dtype()));
  if (bias.defined()) {
    check_float(op, "bias", bias);
    KILN_CHECK(bias.dtype() == x.dtype(), op, ": dtype mismatch, input is ", dtype_name(x.dtype()), " and bias is ",
               dtype_name(bias.dtype()));
  }
  common_device(op, {&x, &weight, &bias});
  KILN_CHECK(x.dim() == 4, op, ": input has ", x.dim(), " dims, expected 4 ([N, C_in, H, W]) or 3 ([C_in, H, W]), got shape ",
             shape_str(x.shape()));
  KILN_CHECK(weight.dim() == 4, op, ": weight has ", weight.dim(), " dims, expected 4 (", weight_layout, "), got shape ",
             shape_str(weight.shape()));
  KILN_CHECK(weight.size(2) > 0 && weight.size(3) > 0, op, ": the kernel size must be positive, weight has shape ",
             shape_str(weight.shape()));
  KILN_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  KILN_CHECK(stride[0] >= 1 && stride[1] >= 1, op, ": stride must be positive, got ", pair_str(stride));
  KILN_CHECK(dilation[0] >= 1 && dilation[1] >= 1, op, ": dilation must be positive, got ", pair_str(dilation));
  KILN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ", pair_str(padding));
  KILN_CHECK(x.size(1) % groups == 0, op, ": input channels C_in = ", x.size(1), " are not divisible by groups = ",
             groups, " (input shape ", shape_str(x.shape()), ")");
}

void check_bias(const char* op, const Tensor& bias, int64_t out_channels) {
  if (!bias.defined()) return;
  KILN_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, op, ": bias has shape ", shape_str(bias.shape()),
             ", expected [", out_channels, "] (one value per output channel)");
}

// Runs fn on a batched input: a 3-D (unbatched) input is given a batch of one and the result loses it again.
template <class F>
Tensor with_batch_dim(const Tensor& x, F&& fn) {
  if (x.defined() && x.dim() == 3) return squeeze(fn(unsqueeze(x, 0)), 0);
  return fn(x);
}

// Contiguous data for the kernels, without recording anything.
Tensor contiguous_data(const Tensor& t) { return t.defined() ? contiguous(t.detach()) : t; }

// ---- conv2d: y = W ⋆ x + b, per image and group Y = W·im2col(x) ;
// dx = col2im(Wᵀ·dY), dW = Σₙ dY·im2col(x)ᵀ, db = Σ dY over n, h, w.  Backward kernels: kernels/cpu/conv.
struct Conv2dNode final : Node {
  cpu::Conv2dGeometry geometry;
  Conv2dNode() : Node(OpId::conv2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), w = saved(1), dy = contiguous(g[0]);
    Tensor dx = needs_input_grad(0) ? empty(x.shape(), x.options()) : Tensor();
    Tensor dw = needs_input_grad(1) ? empty(w.shape(), w.options()) : Tensor();
    Tensor db = needs_input_grad(2) ? empty({geometry.out_channels}, x.options()) : Tensor();
    const Device device = x.device();
    KILN_DISPATCH_FLOAT(x.dtype(), "conv2d", [&]<class T>() {
      const T* pdy = static_cast<const T*>(dy.data());
      if (dx.defined())
        KILN_DEVICE_CALL(device, "conv2d", conv2d_backward_input<T>, geometry, pdy, static_cast<const T*>(w.data()),
                         static_cast<T*>(dx.data()));
      if (dw.defined())
        KILN_DEVICE_CALL(device, "conv2d", conv2d_backward_weight<T>, geometry, static_cast<const T*>(x.data()), pdy,
                         static_cast<T*>(dw.data()));
      if (db.defined())
        KILN_DEVICE_CALL(device, "conv2d", sum_per_channel<T>, geometry.batch, geometry.out_channels,
                         geometry.out_h * geometry.out_w, pdy, static_cast<T*>(db.data()));
    });
    return {dx, dw, db};
  }
};

// ---- conv_transpose2d: z = Kᵀ·x + b, the adjoint of conv2d with the same weight, i.e. per image and group
// Z = col2im(Wᵀ·X) ;  dx = K·dZ = conv2d(dZ, W), dW = Σₙ X·im2col(dZ)ᵀ, db = Σ dZ over n, h, w.
// Its geometry is that of the conv2d it is the adjoint of: image = z, columns = x.
struct ConvTranspose2dNode final : Node {
  cpu::Conv2dGeometry geometry;
  ConvTranspose2dNode() : Node(OpId::conv_transpose2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), w = saved(1), dz = contiguous(g[0]);
    Tensor dx = needs_input_grad(0) ? empty(x.shape(), x.options()) : Tensor();
    Tensor dw = needs_input_grad(1) ? empty(w.shape(), w.options()) : Tensor();
    Tensor db = needs_input_grad(2) ? empty({geometry.in_channels}, x.options()) : Tensor();
    const Device device = x.device();
    KILN_DISPATCH_FLOAT(x.dtype(), "conv_transpose2d", [&]<class T>() {
      const T* pdz = static_cast<const T*>(dz.data());
      if (dx.defined())
        KILN_DEVICE_CALL(device, "conv_transpose2d", conv2d_forward<T>, geometry, pdz, static_cast<const T*>(w.data()),
                         static_cast<const T*>(nullptr), static_cast<T*>(dx.data()));
      if (dw.defined())
        KILN_DEVICE_CALL(device, "conv_transpose2d", conv2d_backward_weight<T>, geometry, pdz,
                         static_cast<const T*>(x.data()), static_cast<T*>(dw.data()));
      if (db.defined())
        KILN_DEVICE_CALL(device, "conv_transpose2d", sum_per_channel<T>, geometry.batch, geometry.in_channels,
                         geometry.in_h * geometry.in_w, pdz, static_cast<T*>(db.data()));
    });
    return {dx, dw, db};
  }
};

Tensor conv2d_batched(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                      Pair dilation, int64_t groups) {
  const char* op = "conv2d";
  check_common(op, x, weight, bias, stride, padding, dilation, groups, "[C_out, C_in/groups, kH, kW]");
  const int64_t c_out = weight.size(0), c_in = x.size(1);
  KILN_CHECK(c_out % groups == 0, op, ": output channels C_out = weight.size(0) = ", c_out,
             " are not divisible by groups = ", groups, " (weight shape ", shape_str(weight.shape()), ")");
  KILN_CHECK(weight.size(1) * groups == c_in, op, ": weight ", shape_str(weight.shape()), " with groups = ", groups,
             " expects ", weight.size(1) * groups, " input channels ([C_out, C_in/groups, kH, kW]), but input ",
             shape_str(x.shape()), " has ", c_in);
  check_bias(op, bias, c_out);
  cpu::Conv2dGeometry geo;
  geo.batch = x.size(0);
  geo.in_channels = c_in;
  geo.out_channels = c_out;
  geo.groups = groups;
  geo.in_h = x.size(2);
  geo.in_w = x.size(3);
  geo.kernel_h = weight.size(2);
  geo.kernel_w = weight.size(3);
  geo.stride_h = stride[0], geo.stride_w = stride[1];
  geo.pad_h = padding[0], geo.pad_w = padding[1];
  geo.dilation_h = dilation[0], geo.dilation_w = dilation[1];
  const int64_t span_h = dilation[0] * (geo.kernel_h - 1) + 1, span_w = dilation[1] * (geo.kernel_w - 1) + 1;
  const int64_t padded_h = geo.in_h + 2 * padding[0], padded_w = geo.in_w + 2 * padding[1];
  KILN_CHECK(span_h <= padded_h && span_w <= padded_w, op, ": the padded input (", padded_h, " × ", padded_w,
             ") is smaller than the dilated kernel (", span_h, " × ", span_w, "); input ", shape_str(x.shape()),
             ", weight ", shape_str(weight.shape()), ", padding ", pair_str(padding), ", dilation ", pair_str(dilation));
  geo.out_h = conv_out_size(geo.in_h, geo.kernel_h, stride[0], padding[0], dilation[0]);
  geo.out_w = conv_out_size(geo.in_w, geo.kernel_w, stride[1], padding[1], dilation[1]);

  Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor y = empty({geo.batch, c_out, geo.out_h, geo.out_w}, x.options());
  KILN_DISPATCH_FLOAT(x.dtype(), op, [&]<class T>() {
    KILN_DEVICE_CALL(x.device(), op, conv2d_forward<T>, geo, static_cast<const T*>(xc.data()),
                     static_cast<const T*>(wc.data()), bc.defined() ? static_cast<const T*>(bc.data()) : nullptr,
                     static_cast<T*>(y.data()));
  });
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<Conv2dNode>();
    node->geometry = geo;
    node->save(xc);
    node->save(wc);
    record_op(node, {&x, &weight, &bias}, {&y});
  }
  return y;
}

Tensor conv_transpose2d_batched(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                                Pair output_padding, int64_t groups, Pair dilation) {
  const char* op = "conv_transpose2d";
  check_common(op, x, weight, bias, stride, padding, dilation, groups, "[C_in, C_out/groups, kH, kW]");
  const int64_t c_in = x.size(1), c_out = weight.size(1) * groups;
  KILN_CHECK(weight.size(0) == c_in, op, ": weight ", shape_str(weight.shape()), " expects C_in = weight.size(0) = ",
             weight.size(0), " input channels ([C_in, C_out/groups, kH, kW]), but input ", shape_str(x.shape()),
             " has ", c_in);
  for (int d = 0; d < 2; ++d)
    KILN_CHECK(output_padding[d] >= 0 && (output_padding[d] < stride[d] || output_padding[d] < dilation[d]), op,
               ": output_padding ", pair_str(output_padding), " must be non-negative and smaller than either stride ",
               pair_str(stride), " or dilation ", pair_str(dilation), " in each dim");
  check_bias(op, bias, c_out);
  // The conv2d this op is the adjoint of: its image is our output, its columns are our input.
  cpu::Conv2dGeometry geo;
  geo.batch = x.size(0);
  geo.in_channels = c_out;
  geo.out_channels = c_in;
  geo.groups = groups;
  geo.out_h = x.size(2);
  geo.out_w = x.size(3);
  geo.kernel_h = weight.size(2);
  geo.kernel_w = weight.size(3);
  geo.stride_h = stride[0], geo.stride_w = stride[1];
  geo.pad_h = padding[0], geo.pad_w = padding[1];
  geo.dilation_h = dilation[0], geo.dilation_w = dilation[1];
  geo.in_h = conv_transpose_out_size(geo.out_h, geo.kernel_h, stride[0], padding[0], dilation[0], output_padding[0]);
  geo.in_w = conv_transpose_out_size(geo.out_w, geo.kernel_w, stride[1], padding[1], dilation[1], output_padding[1]);
  KILN_CHECK(geo.in_h > 0 && geo.in_w > 0, op, ": the output would be ", geo.in_h, " × ", geo.in_w,
             ", which is not positive (input ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()),
             ", stride ", pair_str(stride), ", padding ", pair_str(padding), ", dilation ", pair_str(dilation),
             ", output_padding ", pair_str(output_padding), ")");

  Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor z = empty({geo.batch, c_out, geo.in_h, geo.in_w}, x.options());
  KILN_DISPATCH_FLOAT(x.dtype(), op, [&]<class T>() {
    T* pz = static_cast<T*>(z.data());
    KILN_DEVICE_CALL(x.device(), op, conv2d_backward_input<T>, geo, static_cast<const T*>(xc.data()),
                     static_cast<const T*>(wc.data()), pz);
    if (bc.defined())
      KILN_DEVICE_CALL(x.device(), op, add_channel_bias<T>, geo.batch, c_out, geo.in_h * geo.in_w,
                       static_cast<const T*>(bc.data()), pz);
  });
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<ConvTranspose2dNode>();
    node->geometry = geo;
    node->save(xc);
    node->save(wc);
    record_op(node, {&x, &weight, &bias}, {&z});
  }
  return z;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding, Pair dilation,
              int64_t groups) {
  return with_batch_dim(x, [&](const Tensor& xb) {
    return conv2d_batched(xb, weight, bias, stride, padding, dilation, groups);
  });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair stride, Pair padding,
                        Pair output_padding, int64_t groups, Pair dilation) {
  return with_batch_dim(x, [&](const Tensor& xb) {
    return conv_transpose2d_batched(xb, weight, bias, stride, padding, output_padding, groups, dilation);
  });
}

}  // namespace kiln
