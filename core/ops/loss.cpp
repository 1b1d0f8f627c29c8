// Losses. cross_entropy is one fused op (log-softmax + NLL + label smoothing, forward and backward
// kernels); binary_cross_entropy_with_logits, mse_loss and gaussian_kl are pointwise losses that share
// one node: an elementwise kernel (math in kernels/common/loss_math.h), then the reduction.
// On CUDA nothing syncs: cross_entropy's mean divides by the non-ignored count on the device, and a
// target out of range gives NaN there instead of the CPU's error.
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/ops/reduce_util.h"
#include "core/tensor_data.h"
#include "kernels/cpu/loss.h"
#include "kernels/cuda/loss.h"

namespace kiln {
namespace {

// Σ of all elements of a tensor, as a 0-d tensor on its device (accumulated in double; no autograd).
Tensor sum_all(const Tensor& t) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < t.dim(); ++d) dims.push_back(d);
  return reduce_forward(cpu::ReduceKind::Sum, "sum", t, dims, false);
}

// Strides of `t` (shape [N, d...]) seen as a tensor of rank + 1 with a class dim of stride 0 at index 1.
Strides with_class_dim(const Tensor& t) {
  Strides s = t.strides();
  s.insert(s.begin() + 1, 0);
  return s;
}

// ---- cross_entropy (fused): ℓ_p = lse_p − (1−ε)·x_{p,t} − (ε/C)·Σ_c x_{p,c}, 0 where t = ignore_index ;
//      dx_{p,c} = (softmax_{p,c} − (1−ε)·[c = t] − ε/C)·dy_p/norm, norm = #non-ignored for Mean, else 1
struct CrossEntropyNode final : Node {
  int64_t ignore_index;
  double label_smoothing;
  Reduction reduction;
  double scale;  // 1/norm (CPU)
  Tensor norm;   // CUDA with Mean: #non-ignored as a 0-d tensor on the device (scale is then 1)
  CrossEntropyNode() : Node(OpId::cross_entropy) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor logits = saved(0), target = saved(1), lse = saved(2);
    Tensor dy = g[0];
    if (norm.defined()) {
      NoGradGuard plain;
      dy = div(dy, norm);  // dy/norm on the device: no host sync
    }
    Strides dy_strides = reduction == Reduction::None ? with_class_dim(dy) : Strides(size_t(logits.dim()), 0);
    Strides target_strides = with_class_dim(target), lse_strides = with_class_dim(lse);
    Tensor dlogits = empty(logits.shape(), logits.options());
    KILN_DEVICE_CALL(logits.device(), name(), cross_entropy_backward, logits.dtype(), logits.shape(), logits.data(),
                     logits.strides().data(), target.data_ptr<int64_t>(), target_strides.data(), ignore_index,
                     label_smoothing, lse.data(), lse_strides.data(), dy.data(), dy_strides.data(), scale,
                     dlogits.data());
    return {dlogits, Tensor()};
  }
};

// ---- the pointwise losses: y = reduce(ℓ(a, b)) ;  da = ∂ℓ/∂a·dy/norm, db = ∂ℓ/∂b·dy/norm (norm = numel for Mean)
struct PointwiseLossNode final : Node {
  PointwiseLoss kind;
  Reduction reduction;
  double scale;
  PointwiseLossNode(OpId id, PointwiseLoss k) : Node(id), kind(k) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor a = saved(0), b = saved(1);
    const Tensor& dy = g[0];
    Strides dy_strides = reduction == Reduction::None ? dy.strides() : Strides(size_t(a.dim()), 0);
    Tensor da = needs_input_grad(0) ? empty(a.shape(), a.options()) : Tensor();
    Tensor db = needs_input_grad(1) ? empty(b.shape(), b.options()) : Tensor();
    KILN_DEVICE_CALL(a.device(), name(), pointwise_loss_backward, kind, a.dtype(), a.shape(), a.data(),
                     a.strides().data(), b.data(), b.strides().data(), dy.data(), dy_strides.data(), scale,
                     da.defined() ? da.data() : nullptr, db.defined() ? db.data() : nullptr);
    return {da, db};
  }
};

Tensor pointwise_loss(OpId id, PointwiseLoss kind, const Tensor& a, const Tensor& b, Reduction reduction,
                      const char* a_name, const char* b_name) {
  const char* op = op_name(id);
  check_float(op, a_name, a);
  check_float(op, b_name, b);
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a_name, " is ", dtype_name(a.dtype()), " and ", b_name,
             " is ", dtype_name(b.dtype()));
  KILN_CHECK(a.shape() == b.shape(), op, ": ", b_name, " shape ", shape_str(b.shape()), " does not match ", a_name,
             " shape ", shape_str(a.shape()), " (expand one explicitly if broadcasting is meant)");
  Device device = common_device(op, {&a, &b});
  Tensor elementwise = empty(a.shape(), a.options());
  KILN_DEVICE_CALL(device, op, pointwise_loss_forward, kind, a.dtype(), a.shape(), a.data(), a.strides().data(),
                   b.data(), b.strides().data(), elementwise.data());
  Tensor y = elementwise;
  double scale = 1;
  if (reduction != Reduction::None) {
    y = sum_all(elementwise);
    if (reduction == Reduction::Mean) {
      scale = 1.0 / double(a.numel());
      NoGradGuard plain;
      y = mul(y, scale);  // 0/0 = NaN for an empty input, as in PyTorch
    }
  }
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<PointwiseLossNode>(id, kind);
    node->reduction = reduction;
    node->scale = scale;
    node->save(a);
    node->save(b);
    record_op(node, {&a, &b}, {&y});
  }
  return y;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  check_float("cross_entropy", "logits", logits);
  KILN_CHECK(target.dtype() == DType::Int64, "cross_entropy: target must hold int64 class indices, got ",
             dtype_name(target.dtype()), " (class-probability targets are not supported)");
  KILN_CHECK(logits.dim() >= 1, "cross_entropy: logits must have a class dim ([C], [N, C] or [N, C, d1, ...]), got a 0-d tensor");
  KILN_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1,
             "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", options.label_smoothing);
  Device device = common_device("cross_entropy", {&logits, &target});
  if (logits.dim() == 1) {  // unbatched: logits [C], target 0-d
    KILN_CHECK(target.dim() == 0, "cross_entropy: for logits of shape ", shape_str(logits.shape()),
               " (one sample) target must be 0-d, got shape ", shape_str(target.shape()));
    Tensor loss = cross_entropy(reshape(logits, {1, logits.size(0)}), reshape(target, {1}), options);
    return options.reduction == Reduction::None ? reshape(loss, {}) : loss;
  }
  Shape expected = logits.shape();
  expected.erase(expected.begin() + 1);
  KILN_CHECK(target.shape() == expected, "cross_entropy: target shape ", shape_str(target.shape()),
             " does not match logits shape ", shape_str(logits.shape()), " (expected target ", shape_str(expected),
             ": logits [N, C, d1, ...] with target [N, d1, ...])");

  Tensor loss = empty(expected, logits.options()), lse = empty(expected, logits.options());
  Strides target_strides = with_class_dim(target), loss_strides = with_class_dim(loss), lse_strides = with_class_dim(lse);
  Tensor y = loss;
  double scale = 1;
  Tensor norm;  // CUDA: the number of non-ignored targets, on the device
  if (device.is_cpu()) {
    int64_t counted = cpu::cross_entropy_forward(
        logits.dtype(), logits.shape(), logits.data(), logits.strides().data(), target.data_ptr<int64_t>(),
        target_strides.data(), options.ignore_index, options.label_smoothing, loss.data(), loss_strides.data(),
        lse.data(), lse_strides.data());
    if (options.reduction != Reduction::None) {
      y = sum_all(loss);
      if (options.reduction == Reduction::Mean) {  // the mean over non-ignored targets: NaN when all are ignored
        scale = 1.0 / double(counted);
        NoGradGuard plain;
        y = div(y, double(counted));
      }
    }
  } else {
#if KILN_HAVE_CUDA
    // The count of non-ignored targets stays on the device (reading it would sync): the kernel marks
    // each position valid (1) or ignored (0), and the mean divides by their sum there.
    Tensor valid = empty(expected, logits.options());
    Strides valid_strides = with_class_dim(valid);
    cuda::use_device(device.index);
    cuda::cross_entropy_forward(logits.dtype(), logits.shape(), logits.data(), logits.strides().data(),
                                target.data_ptr<int64_t>(), target_strides.data(), options.ignore_index,
                                options.label_smoothing, loss.data(), loss_strides.data(), lse.data(),
                                lse_strides.data(), valid.data(), valid_strides.data());
    if (options.reduction != Reduction::None) {
      y = sum_all(loss);
      if (options.reduction == Reduction::Mean) {  // NaN when all are ignored (0/0), as on the CPU
        norm = sum_all(valid);
        NoGradGuard plain;
        y = div(y, norm);
      }
    }
#else
    throw_no_kernel("cross_entropy", device);
#endif
  }
  if (any_requires_grad({&logits})) {
    auto node = std::make_shared<CrossEntropyNode>();
    node->ignore_index = options.ignore_index;
    node->label_smoothing = options.label_smoothing;
    node->reduction = options.reduction;
    node->scale = scale;
    node->norm = norm;
    node->save(logits);
    node->save(target);
    node->save(lse);
    record_op(node, {&logits, &target}, {&y});
  }
  return y;
}

// binary_cross_entropy_with_logits: ℓ = max(x, 0) − x·t + ln(1 + e^{−|x|}) ;  dx = (σ(x) − t)·dy ;  dt = −x·dy
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction) {
  return pointwise_loss(OpId::binary_cross_entropy_with_logits, PointwiseLoss::BceWithLogits, logits, target,
                        reduction, "logits", "target");
}

// mse_loss: ℓ = (x − t)² ;  dx = 2(x − t)·dy ;  dt = −2(x − t)·dy
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return pointwise_loss(OpId::mse_loss, PointwiseLoss::Mse, input, target, reduction, "input", "target");
}

// gaussian_kl: ℓ = −½(1 + lv − μ² − e^{lv}) ;  dμ = μ·dy ;  dlv = ½(e^{lv} − 1)·dy
Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction reduction) {
  return pointwise_loss(OpId::gaussian_kl, PointwiseLoss::GaussianKl, mu, logvar, reduction, "mu", "logvar");
}

}  // namespace kiln
