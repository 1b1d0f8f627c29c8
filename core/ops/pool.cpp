// 2-D pooling and nearest upsampling on [N, C, H, W] (pools also take [C, H, W]). Output sizes
// follow PyTorch exactly (floor mode); the window math lives in kernels/common/pool_math.h.
// Each backward is its own kernel that sums dy back over the windows in double. Kernels: kernels/cpu/pool
// and kernels/cuda/pool (same signatures; the CUDA backward kernels gather per input element).
#include <array>
#include <ostream>

#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/common/pool_math.h"
#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"

namespace kiln {
namespace {

using Strides4 = std::array<int64_t, 4>;

// Prints a Pair as "(h, w)" in error messages.
struct PairText {
  Pair p;
};
std::ostream& operator<<(std::ostream& os, PairText t) { return os << "(" << t.p[0] << ", " << t.p[1] << ")"; }
PairText pair_str(Pair p) { return {p}; }

// The strides of a [N, C, H, W] or [C, H, W] tensor as four (a missing batch dim gets stride 0).
Strides4 strides4(const Tensor& t) {
  if (t.dim() == 3) return {0, t.stride(0), t.stride(1), t.stride(2)};
  return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// Checks the input's rank and sizes; fills N, C, H, W of the geometry.
cpu::Pool2dGeometry input_geometry(const char* op, const Tensor& x, bool allow_3d) {
  check_float(op, "x", x);
  if (allow_3d)
    KILN_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ",
               shape_str(x.shape()));
  else
    KILN_CHECK(x.dim() == 4, op, ": expected a 4-D [N, C, H, W] input, got shape ", shape_str(x.shape()));
  cpu::Pool2dGeometry g;
  g.N = x.dim() == 4 ? x.size(0) : 1;
  g.C = x.size(-3);
  g.H = x.size(-2);
  g.W = x.size(-1);
  KILN_CHECK(g.C > 0 && g.H > 0 && g.W > 0, op, ": input of shape ", shape_str(x.shape()),
             " has an empty dim (only the batch dim may be 0)");
  return g;
}

// The output shape: [N, C, Ho, Wo], or [C, Ho, Wo] for a 3-D input.
Shape output_shape(const Tensor& x, const cpu::Pool2dGeometry& g) {
  if (x.dim() == 3) return {g.C, g.Ho, g.Wo};
  return {g.N, g.C, g.Ho, g.Wo};
}

// Checks kernel/stride/padding/dilation as PyTorch does and computes the (floor mode) output size.
void window_geometry(const char* op, cpu::Pool2dGeometry& g, Pair kernel, Pair stride, Pair padding, Pair dilation) {
  KILN_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel_size must be positive, got ", pair_str(kernel));
  if (stride[0] == 0 && stride[1] == 0) stride = kernel;
  KILN_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive (or (0, 0) for kernel_size), got ",
             pair_str(stride));
  KILN_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ", pair_str(dilation));
  KILN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ", pair_str(padding));
  KILN_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op, ": padding ", pair_str(padding),
             " should be at most half of kernel_size ", pair_str(kernel));
  g.kH = kernel[0], g.kW = kernel[1], g.sH = stride[0], g.sW = stride[1];
  g.pH = padding[0], g.pW = padding[1], g.dH = dilation[0], g.dW = dilation[1];
  g.Ho = pool_output_size(g.H, g.kH, g.sH, g.pH, g.dH);
  g.Wo = pool_output_size(g.W, g.kW, g.sW, g.pW, g.dW);
  KILN_CHECK(g.Ho >= 1 && g.Wo >= 1, op, ": input of size ", g.H, "x", g.W, " is too small for kernel_size ",
             pair_str(kernel), " with padding ", pair_str(padding), " and dilation ", pair_str(dilation),
             " (output size would be ", g.Ho, "x", g.Wo, ")");
}

// The parts every pooling backward shares: the geometry and a contiguous dx of the input's shape.
struct PoolNodeBase : Node {
  cpu::Pool2dGeometry geom;
  explicit PoolNodeBase(OpId id) : Node(id) {}
  Tensor new_input_grad(const Tensor& dy) const { return empty(input_meta()[0].shape, dy.options()); }
};

// ---- max_pool2d: y = max over each window (argmax saved) ;  dx[argmax] += dy
struct MaxPool2dNode final : PoolNodeBase {
  MaxPool2dNode() : PoolNodeBase(OpId::max_pool2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor argmax = saved(0);
    Tensor dx = new_input_grad(g[0]);
    Strides4 s = strides4(g[0]);
    KILN_DEVICE_CALL(dx.device(), "max_pool2d_backward", max_pool2d_backward, dx.dtype(), geom, g[0].data(), s.data(),
                     argmax.data_ptr<int64_t>(), dx.data());
    return {dx};
  }
};

// ---- avg_pool2d: y = Σ window / count ;  dx += dy / count over each window
//      (count = kH·kW with count_include_pad, else the number of input elements in the window)
struct AvgPool2dNode final : PoolNodeBase {
  bool count_include_pad;
  AvgPool2dNode() : PoolNodeBase(OpId::avg_pool2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor dx = new_input_grad(g[0]);
    Strides4 s = strides4(g[0]);
    KILN_DEVICE_CALL(dx.device(), "avg_pool2d_backward", avg_pool2d_backward, dx.dtype(), geom, count_include_pad,
                     g[0].data(), s.data(), dx.data());
    return {dx};
  }
};

// ---- adaptive_avg_pool2d: y[i][j] = mean of x over [⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉) × [⌊j·W/Wo⌋, ⌈(j+1)·W/Wo⌉)
//      ;  dx += dy / area over each window
struct AdaptiveAvgPool2dNode final : PoolNodeBase {
  AdaptiveAvgPool2dNode() : PoolNodeBase(OpId::adaptive_avg_pool2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor dx = new_input_grad(g[0]);
    Strides4 s = strides4(g[0]);
    KILN_DEVICE_CALL(dx.device(), "adaptive_avg_pool2d_backward", adaptive_avg_pool2d_backward, dx.dtype(), geom,
                     g[0].data(), s.data(), dx.data());
    return {dx};
  }
};

// ---- upsample_nearest2d: y[i][j] = x[src(i)][src(j)], src(i) = ⌊i·step⌋ (PyTorch's float32 step)
//      ;  dx[src(i)][src(j)] += dy[i][j]
struct UpsampleNearest2dNode final : PoolNodeBase {
  UpsampleNearest2dNode() : PoolNodeBase(OpId::upsample_nearest2d) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor dx = new_input_grad(g[0]);
    Strides4 s = strides4(g[0]);
    KILN_DEVICE_CALL(dx.device(), "upsample_nearest2d_backward", upsample_nearest2d_backward, dx.dtype(), geom,
                     g[0].data(), s.data(), dx.data());
    return {dx};
  }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, Pair kernel_size, Pair stride, Pair padding, Pair dilation) {
  cpu::Pool2dGeometry g = input_geometry("max_pool2d", x, true);
  window_geometry("max_pool2d", g, kernel_size, stride, padding, dilation);
  Shape shape = output_shape(x, g);
  Tensor y = empty(shape, x.options());
  Tensor argmax = empty(shape, {.dtype = DType::Int64, .device = x.device()});
  Strides4 s = strides4(x);
  KILN_DEVICE_CALL(x.device(), "max_pool2d", max_pool2d_forward, x.dtype(), g, x.data(), s.data(), y.data(),
                   argmax.data_ptr<int64_t>());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaxPool2dNode>();
    node->geom = g;
    node->save(argmax);
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, Pair kernel_size, Pair stride, Pair padding, bool count_include_pad) {
  cpu::Pool2dGeometry g = input_geometry("avg_pool2d", x, true);
  window_geometry("avg_pool2d", g, kernel_size, stride, padding, {1, 1});
  Tensor y = empty(output_shape(x, g), x.options());
  Strides4 s = strides4(x);
  KILN_DEVICE_CALL(x.device(), "avg_pool2d", avg_pool2d_forward, x.dtype(), g, count_include_pad, x.data(), s.data(),
                   y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<AvgPool2dNode>();
    node->geom = g;
    node->count_include_pad = count_include_pad;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  cpu::Pool2dGeometry g = input_geometry("adaptive_avg_pool2d", x, true);
  KILN_CHECK(output_size[0] >= 0 && output_size[1] >= 0,
             "adaptive_avg_pool2d: output_size must be non-negative, got ", pair_str(output_size));
  g.Ho = output_size[0];
  g.Wo = output_size[1];
  Tensor y = empty(output_shape(x, g), x.options());
  Strides4 s = strides4(x);
  KILN_DEVICE_CALL(x.device(), "adaptive_avg_pool2d", adaptive_avg_pool2d_forward, x.dtype(), g, x.data(), s.data(),
                   y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<AdaptiveAvgPool2dNode>();
    node->geom = g;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor upsample_nearest2d(const Tensor& x, Pair output_size, std::array<double, 2> scale_factor) {
  cpu::Pool2dGeometry g = input_geometry("upsample_nearest2d", x, false);
  KILN_CHECK(output_size[0] > 0 && output_size[1] > 0, "upsample_nearest2d: output_size must be positive, got ",
             pair_str(output_size));
  g.Ho = output_size[0];
  g.Wo = output_size[1];
  g.nearest_step_h = nearest_step(g.H, g.Ho, scale_factor[0]);
  g.nearest_step_w = nearest_step(g.W, g.Wo, scale_factor[1]);
  Tensor y = empty(output_shape(x, g), x.options());
  Strides4 s = strides4(x);
  KILN_DEVICE_CALL(x.device(), "upsample_nearest2d", upsample_nearest2d_forward, x.dtype(), g, x.data(), s.data(),
                   y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<UpsampleNearest2dNode>();
    node->geom = g;
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace kiln
