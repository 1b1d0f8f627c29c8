// Scaled dot-product attention as one fused op: the forward saves only the row log-sum-exp (and its
// output), and the backward kernel recomputes the attention probabilities from it (as flash attention
// does), so no [Tq, Tk] matrix is kept between forward and backward. On CUDA, float32 runs the flash
// kernels (kernels/cuda/flash_attention.h), float64 the reference kernels.
#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"

namespace kiln {
namespace {

Tensor contiguous_data(const Tensor& x) {
  NoGradGuard no_grad;
  return contiguous(x.detach());
}

struct AttentionNode final : Node {
  cpu::AttentionShape shape;
  double scale;
  bool causal;
  AttentionNode(const cpu::AttentionShape& s, double sc, bool c)
      : Node(OpId::scaled_dot_product_attention), shape(s), scale(sc), causal(c) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor q = saved(0), k = saved(1), v = saved(2), lse = saved(3), out = saved(4);
    Tensor dout = contiguous(g[0]);
    Tensor dq = needs_input_grad(0) ? empty(q.shape(), q.options()) : Tensor();
    Tensor dk = needs_input_grad(1) ? empty(k.shape(), k.options()) : Tensor();
    Tensor dv = needs_input_grad(2) ? empty(v.shape(), v.options()) : Tensor();
    KILN_DEVICE_CALL(q.device(), name(), attention_backward, q.dtype(), shape, q.data(), k.data(), v.data(), out.data(),
                     lse.data(), dout.data(), scale, causal, dq.defined() ? dq.data() : nullptr,
                     dk.defined() ? dk.data() : nullptr, dv.defined() ? dv.data() : nullptr);
    return {dq, dk, dv};
  }
};

}  // namespace

// scaled_dot_product_attention: S = scale·Q·Kᵀ (causal: S_ij = −∞ for j > i), P = softmax(S), O = P·V ;
// dV = Pᵀ·dO ; dP = dO·Vᵀ ; dS = P∘(dP − rowsum(dP∘P)) ; dQ = scale·dS·K ; dK = scale·dSᵀ·Q  (fused kernels)
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const char* op = "scaled_dot_product_attention";
  check_float(op, "q", q);
  check_float(op, "k", k);
  check_float(op, "v", v);
  KILN_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), op, ": q, k and v must have one dtype, got ",
             dtype_name(q.dtype()), ", ", dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  KILN_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op,
             ": q, k and v need at least 2 dims ([..., T, D]), got shapes ", shape_str(q.shape()), ", ",
             shape_str(k.shape()), " and ", shape_str(v.shape()));
  const int64_t nd = q.dim();
  const Shape batch(q.shape().begin(), q.shape().end() - 2);
  KILN_CHECK(k.dim() == nd && v.dim() == nd && Shape(k.shape().begin(), k.shape().end() - 2) == batch &&
                 Shape(v.shape().begin(), v.shape().end() - 2) == batch,
             op, ": q, k and v must have the same leading (batch) dims, got shapes ", shape_str(q.shape()), ", ",
             shape_str(k.shape()), " and ", shape_str(v.shape()));
  const int64_t Tq = q.size(-2), D = q.size(-1), Tk = k.size(-2), Dv = v.size(-1);
  KILN_CHECK(k.size(-1) == D, op, ": k's last dim ", k.size(-1), " must equal q's ", D, " (q ", shape_str(q.shape()),
             ", k ", shape_str(k.shape()), ")");
  KILN_CHECK(v.size(-2) == Tk, op, ": v has ", v.size(-2), " positions but k has ", Tk, " (k ", shape_str(k.shape()),
             ", v ", shape_str(v.shape()), ")");
  if (std::isnan(scale)) scale = 1.0 / std::sqrt(double(D));
  const Device device = common_device(op, {&q, &k, &v});

  const cpu::AttentionShape s{shape_numel(batch), Tq, Tk, D, Dv};
  Tensor qc = contiguous_data(q), kc = contiguous_data(k), vc = contiguous_data(v);
  Shape out_shape = batch, lse_shape = batch;
  out_shape.insert(out_shape.end(), {Tq, Dv});
  lse_shape.push_back(Tq);
  Tensor out = empty(out_shape, q.options()), lse = empty(lse_shape, q.options());
  KILN_DEVICE_CALL(device, op, attention_forward, q.dtype(), s, qc.data(), kc.data(), vc.data(), scale, causal,
                   out.data(), lse.data());
  if (any_requires_grad({&q, &k, &v})) {
    auto node = std::make_shared<AttentionNode>(s, scale, causal);
    node->save(qc);
    node->save(kc);
    node->save(vc);
    node->save(lse);
    // The output too: the flash backward's Δ_i = rowsum(dO_i∘O_i) then costs one pass over O instead of
    // recomputing every score. Saved detached (no cycle); it is O(Tq·Dv), like q.
    node->save(out);
    record_op(node, {&q, &k, &v}, {&out});
  }
  return out;
}

}  // namespace kiln
