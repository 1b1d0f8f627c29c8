// Normalization (batch, layer, group) and dropout. The normalizations are fused ops: one kernel
// computes the statistics and the output, one backward kernel computes dx, dγ and dβ, all with the
// biased variance inside the normalization as PyTorch does. Inputs are made contiguous first.
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/norm.h"
#include "kernels/cuda/norm.h"

namespace kiln {
namespace {

// A contiguous copy (or x itself) with no autograd history: what the kernels read.
Tensor contiguous_data(const Tensor& x) {
  if (!x.defined()) return x;
  NoGradGuard no_grad;
  return contiguous(x.detach());
}

void* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// An optional per-channel/per-position parameter: undefined, or float of x's dtype and `shape`.
void check_param(const char* op, const char* arg, const Tensor& t, const Shape& shape, const Tensor& x) {
  if (!t.defined()) return;
  check_float(op, arg, t);
  KILN_CHECK(t.dtype() == x.dtype(), op, ": ", arg, " has dtype ", dtype_name(t.dtype()), " but x has ",
             dtype_name(x.dtype()));
  KILN_CHECK(t.shape() == shape, op, ": ", arg, " has shape ", shape_str(t.shape()), ", expected ", shape_str(shape),
             " for x of shape ", shape_str(x.shape()));
}

int64_t product(const Shape& shape, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t d = from; d < to; ++d) p *= shape[d];
  return p;
}

// ---- batch_norm backward (see batch_norm below for the math)
struct BatchNormNode final : Node {
  int64_t N, C, S;
  bool batch_stats;
  BatchNormNode(int64_t n, int64_t c, int64_t s, bool b) : Node(OpId::batch_norm), N(n), C(c), S(s), batch_stats(b) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), weight = saved(1), mean = saved(2), rstd = saved(3);
    Tensor dy = contiguous(g[0]);
    Tensor dx = needs_input_grad(0) ? empty(x.shape(), x.options()) : Tensor();
    Tensor dweight = needs_input_grad(1) ? empty({C}, x.options()) : Tensor();
    Tensor dbias = needs_input_grad(2) ? empty({C}, x.options()) : Tensor();
    KILN_DEVICE_CALL(x.device(), name(), batch_norm_backward, x.dtype(), N, C, S, x.data(), dy.data(), mean.data(),
                     rstd.data(), data_or_null(weight), batch_stats, data_or_null(dx), data_or_null(dweight),
                     data_or_null(dbias));
    return {dx, dweight, dbias};
  }
};

// ---- layer_norm backward
struct LayerNormNode final : Node {
  int64_t M, K;
  LayerNormNode(int64_t m, int64_t k) : Node(OpId::layer_norm), M(m), K(k) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), weight = saved(1), mean = saved(2), rstd = saved(3);
    Tensor dy = contiguous(g[0]);
    Tensor dx = needs_input_grad(0) ? empty(x.shape(), x.options()) : Tensor();
    Tensor dweight = needs_input_grad(1) ? empty(input_meta()[1].shape, x.options()) : Tensor();
    Tensor dbias = needs_input_grad(2) ? empty(input_meta()[2].shape, x.options()) : Tensor();
    KILN_DEVICE_CALL(x.device(), name(), layer_norm_backward, x.dtype(), M, K, x.data(), dy.data(), mean.data(),
                     rstd.data(), data_or_null(weight), data_or_null(dx), data_or_null(dweight), data_or_null(dbias));
    return {dx, dweight, dbias};
  }
};

// ---- group_norm backward
struct GroupNormNode final : Node {
  int64_t N, C, S, G;
  GroupNormNode(int64_t n, int64_t c, int64_t s, int64_t groups)
      : Node(OpId::group_norm), N(n), C(c), S(s), G(groups) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), weight = saved(1), mean = saved(2), rstd = saved(3);
    Tensor dy = contiguous(g[0]);
    Tensor dx = needs_input_grad(0) ? empty(x.shape(), x.options()) : Tensor();
    Tensor dweight = needs_input_grad(1) ? empty({C}, x.options()) : Tensor();
    Tensor dbias = needs_input_grad(2) ? empty({C}, x.options()) : Tensor();
    KILN_DEVICE_CALL(x.device(), name(), group_norm_backward, x.dtype(), N, C, S, G, x.data(), dy.data(), mean.data(),
                     rstd.data(), data_or_null(weight), data_or_null(dx), data_or_null(dweight), data_or_null(dbias));
    return {dx, dweight, dbias};
  }
};

// ---- dropout backward: dx = dy·mask (composed from mul; the mask already holds 0 or 1/(1−p))
struct DropoutNode final : Node {
  DropoutNode() : Node(OpId::dropout) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {mul(g[0], saved(0))}; }
};

template <class NodeT>
void record_norm(const std::shared_ptr<NodeT>& node, const Tensor& xc, const Tensor& weight, const Tensor& mean,
                 const Tensor& rstd, const Tensor& x, const Tensor& weight_in, const Tensor& bias_in, Tensor& y) {
  node->save(xc);
  node->save(weight);
  node->save(mean);
  node->save(rstd);
  record_op(node, {&x, &weight_in, &bias_in}, {&y});
}

}  // namespace

// batch_norm: y = (x − μ_c)/√(σ²_c + ε)·γ_c + β_c, statistics per channel over N and the spatial dims
// (batch statistics with the biased σ² in training, running statistics in eval) ;
// training: dx = (γ/σ)(dy − mean(dy) − x̂·mean(dy·x̂)) ; eval: dx = (γ/σ)·dy ; dγ = Σ dy·x̂ ; dβ = Σ dy
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_float(op, "x", x);
  KILN_CHECK(x.dim() >= 2, "batch_norm: x has ", x.dim(), " dims (shape ", shape_str(x.shape()),
             "), expected at least 2 ([N, C, ...])");
  const Shape& shape = x.shape();
  const int64_t N = shape[0], C = shape[1], S = product(shape, 2, shape.size());
  check_param(op, "weight", weight, {C}, x);
  check_param(op, "bias", bias, {C}, x);
  for (const Tensor* r : {&running_mean, &running_var})
    if (r->defined()) {
      const char* arg = r == &running_mean ? "running_mean" : "running_var";
      check_float(op, arg, *r);
      KILN_CHECK(r->shape() == Shape{C}, "batch_norm: ", arg, " has shape ", shape_str(r->shape()), ", expected [", C,
                 "] for x of shape ", shape_str(shape));
    }
  KILN_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm: running_mean and running_var must be given together (or both left undefined)");
  KILN_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got ", eps);
  const Device device = common_device(op, {&x, &weight, &bias, &running_mean, &running_var});
  if (training)
    KILN_CHECK(N * S > 1, "batch_norm: expected more than 1 value per channel when training, got x of shape ",
               shape_str(shape));
  else
    KILN_CHECK(running_mean.defined(),
               "batch_norm: running_mean and running_var are needed in evaluation mode (training = false)");

  Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor mean = empty({C}, x.options()), var = empty({C}, x.options()), rstd = empty({C}, x.options());
  {
    NoGradGuard no_grad;
    if (training) {
      KILN_DEVICE_CALL(device, op, batch_norm_stats, x.dtype(), N, C, S, xc.data(), mean.data(), var.data());
      // r ← (1 − momentum)·r + momentum·stat, the running variance taking the unbiased σ²·n/(n − 1)
      const double n = double(N * S);
      if (running_mean.defined() && !device.is_cpu()) {
#if KILN_HAVE_CUDA
        // One fused kernel writing the caller's buffers in place (what copy_ below does on the CPU).
        cuda::batch_norm_update_running_stats(x.dtype(), C, mean.data(), var.data(), momentum, n / (n - 1),
                                              running_mean.dtype(), running_mean.data(), running_mean.stride(0),
                                              running_var.data(), running_var.stride(0));
        running_mean.storage()->bump_version();
        running_var.storage()->bump_version();
#endif
      } else if (running_mean.defined()) {
        Tensor new_mean = mul(running_mean, 1.0 - momentum) + mul(to_dtype(mean, running_mean.dtype()), momentum);
        Tensor new_var = mul(running_var, 1.0 - momentum) + mul(to_dtype(var, running_var.dtype()), momentum * n / (n - 1));
        Tensor rm = running_mean, rv = running_var;  // handles sharing the caller's buffers
        rm.copy_(new_mean);
        rv.copy_(new_var);
      }
    } else {
      // Copies, so a later in-place update of the running statistics cannot change this backward.
      copy_data(mean, running_mean);
      copy_data(var, running_var);
    }
  }
  Tensor y = empty(shape, x.options());
  KILN_DEVICE_CALL(device, op, batch_norm_forward, x.dtype(), N, C, S, xc.data(), mean.data(), var.data(), eps,
                   data_or_null(wc), data_or_null(bc), y.data(), rstd.data());
  if (any_requires_grad({&x, &weight, &bias}))
    record_norm(std::make_shared<BatchNormNode>(N, C, S, training), xc, wc, mean, rstd, x, weight, bias, y);
  return y;
}

// layer_norm: y = (x − μ)/√(σ² + ε)·γ + β, statistics per row over the last normalized_shape dims ;
// dx = (1/σ)(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ ; dγ = Σ_rows dy·x̂ ; dβ = Σ_rows dy
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  check_float(op, "x", x);
  const size_t nd = normalized_shape.size(), xd = size_t(x.dim());
  KILN_CHECK(nd >= 1, "layer_norm: normalized_shape must have at least one dim");
  bool matches = xd >= nd;
  for (size_t i = 0; matches && i < nd; ++i) matches = x.shape()[xd - nd + i] == normalized_shape[i];
  KILN_CHECK(matches, "layer_norm: normalized_shape ", shape_str(normalized_shape), " does not match the last dims of x ",
             shape_str(x.shape()));
  check_param(op, "weight", weight, normalized_shape, x);
  check_param(op, "bias", bias, normalized_shape, x);
  KILN_CHECK(eps >= 0, "layer_norm: eps must be non-negative, got ", eps);
  const Device device = common_device(op, {&x, &weight, &bias});

  const int64_t M = product(x.shape(), 0, xd - nd), K = shape_numel(normalized_shape);
  Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor mean = empty({M}, x.options()), rstd = empty({M}, x.options()), y = empty(x.shape(), x.options());
  KILN_DEVICE_CALL(device, op, layer_norm_forward, x.dtype(), M, K, xc.data(), data_or_null(wc), data_or_null(bc), eps,
                   y.data(), mean.data(), rstd.data());
  if (any_requires_grad({&x, &weight, &bias}))
    record_norm(std::make_shared<LayerNormNode>(M, K), xc, wc, mean, rstd, x, weight, bias, y);
  return y;
}

// group_norm: y = (x − μ_ng)/√(σ²_ng + ε)·γ_c + β_c, statistics per (sample, group of C/G channels) ;
// dx = (1/σ)(g − mean(g) − x̂·mean(g·x̂)) over each group, g = dy·γ ; dγ_c = Σ dy·x̂ ; dβ_c = Σ dy
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_float(op, "x", x);
  KILN_CHECK(x.dim() >= 2, "group_norm: x has ", x.dim(), " dims (shape ", shape_str(x.shape()),
             "), expected at least 2 ([N, C, ...])");
  const Shape& shape = x.shape();
  const int64_t N = shape[0], C = shape[1], S = product(shape, 2, shape.size());
  KILN_CHECK(num_groups > 0 && C % num_groups == 0, "group_norm: the number of channels ", C,
             " of x (shape ", shape_str(shape), ") must be divisible by num_groups = ", num_groups);
  check_param(op, "weight", weight, {C}, x);
  check_param(op, "bias", bias, {C}, x);
  KILN_CHECK(eps >= 0, "group_norm: eps must be non-negative, got ", eps);
  const Device device = common_device(op, {&x, &weight, &bias});

  Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor mean = empty({N, num_groups}, x.options()), rstd = empty({N, num_groups}, x.options());
  Tensor y = empty(shape, x.options());
  KILN_DEVICE_CALL(device, op, group_norm_forward, x.dtype(), N, C, S, num_groups, xc.data(), data_or_null(wc),
                   data_or_null(bc), eps, y.data(), mean.data(), rstd.data());
  if (any_requires_grad({&x, &weight, &bias}))
    record_norm(std::make_shared<GroupNormNode>(N, C, S, num_groups), xc, wc, mean, rstd, x, weight, bias, y);
  return y;
}

// dropout: y = x·m with m = [u < 1 − p]/(1 − p), u from the generator's Philox stream ;  dx = dy·m
// (the forward's product and the backward are composed from mul; the mask is saved)
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must be between 0 and 1, got ", p);
  check_float("dropout", "x", x);
  if (!training || p == 0.0 || x.numel() == 0) return x;
  Tensor mask = empty(x.shape(), x.options());
  if (p == 1.0) fill_data(mask, 0.0);  // everything dropped: no draw needed
  else  // the same Philox draw on every device: CPU and CUDA masks are bit-identical
    KILN_DEVICE_CALL(x.device(), "dropout", dropout_mask, x.dtype(), x.numel(), p,
                     generator.draw(x.numel(), x.device()), mask.data());
  Tensor y;
  {
    NoGradGuard composite_forward;  // DropoutNode is the one node
    y = mul(x, mask);
  }
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<DropoutNode>();
    node->save(mask);
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace kiln
