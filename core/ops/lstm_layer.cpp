// One LSTM layer over a whole sequence as one op (core/ops/rnn.h, lstm_layer): the fast path of the cell
// loop on any device. The forward runs the steps with one GEMM (beta = 1 into the step's gates) and the fused
// cell kernel each, writing into buffers for all steps; the backward runs the steps in reverse for the gate
// gradients and then takes W_hh's and b_hh's gradients once over all steps (one GEMM, one sum) instead of a
// GEMM, a reduction and a weight-sized accumulation per step. The cell loop of kiln ops stays the reference.
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/ops/rnn.h"
#include "core/tensor_data.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/rnn_cell.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/rnn_cell.h"

namespace kiln {
namespace {

// Step t of a [T + 1, N, W] or [T, N, W] contiguous buffer (no autograd).
Tensor step_of(const Tensor& buffer, int64_t t) {
  const int64_t N = buffer.size(1), W = buffer.size(2);
  return make_view(buffer, {N, W}, {W, 1}, buffer.offset() + t * N * W);
}

Tensor contiguous_data(const Tensor& t) {
  NoGradGuard no_grad;
  return contiguous(t.detach());
}

// c (contiguous [m, n]) += a·op(b), op(b) = b ([k, n], contiguous) or bᵀ (b contiguous [n, k]).
void gemm_add(const Tensor& c, const Tensor& a, const Tensor& b, bool transpose_b) {
  const int64_t m = a.size(0), k = a.size(1), n = c.size(1);
  KILN_DISPATCH_FLOAT(c.dtype(), "lstm_layer", [&]<class T>() {
    KILN_DEVICE_CALL(c.device(), "lstm_layer", gemm<T>, false, transpose_b, m, n, k, T(1),
                     static_cast<const T*>(a.data()), k, static_cast<const T*>(b.data()), transpose_b ? k : n, T(1),
                     static_cast<T*>(c.data()), n);
  });
}

// ---- lstm_layer backward: for t = T−1 … 0: dh_t = dy_t + dh_{t+1}, the cell's backward gives dgates_t and
// dc_{t−1}; dh_{t−1} = dgates_t·W_hh. Then dxi = dgates, dW_hh = Σ_t dgates_tᵀ·h_{t−1} (one GEMM over all
// steps), db_hh = Σ_t Σ_n dgates_t, dh0 = dh_{−1}, dc0 = dc_{−1}. Missing output gradients are zeros.
struct LstmLayerNode final : Node {
  int64_t T, N, H;
  LstmLayerNode(int64_t t, int64_t n, int64_t h) : Node(OpId::lstm_layer), T(t), N(n), H(h) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor gates = saved(0), hs = saved(1), cs = saved(2), w_hh = saved(3);
    const TensorOptions options = gates.options();
    Tensor dy = g[0].defined() ? contiguous(g[0]) : Tensor();
    Tensor dh = g[1].defined() ? contiguous(g[1]).clone() : zeros({N, H}, options);
    Tensor dc = g[2].defined() ? contiguous(g[2]).clone() : zeros({N, H}, options);
    Tensor dgates = empty({T, N, 4 * H}, options);
    for (int64_t t = T - 1; t >= 0; --t) {
      Tensor dh_t = dy.defined() ? add(dh, step_of(dy, t)) : dh;
      Tensor dc_prev = empty({N, H}, options), dgates_t = step_of(dgates, t);
      KILN_DEVICE_CALL(gates.device(), name(), lstm_cell_backward, gates.dtype(), N, H, step_of(gates, t).data(),
                       step_of(cs, t).data(), step_of(cs, t + 1).data(), dh_t.data(), dc.data(), dgates_t.data(),
                       dc_prev.data());
      dc = dc_prev;
      if (t > 0 || needs_input_grad(1)) dh = matmul(dgates_t, w_hh);
    }
    Tensor flat = make_view(dgates, {T * N, 4 * H}, {4 * H, 1}, dgates.offset());
    Tensor d_w_hh, d_b_hh;
    if (needs_input_grad(3))
      d_w_hh = matmul(transpose(flat, 0, 1), make_view(hs, {T * N, H}, {H, 1}, hs.offset()));
    if (needs_input_grad(4)) d_b_hh = sum(flat, {0});
    return {needs_input_grad(0) ? dgates : Tensor(), needs_input_grad(1) ? dh : Tensor(),
            needs_input_grad(2) ? dc : Tensor(), d_w_hh, d_b_hh};
  }
};

}  // namespace

RnnOutput lstm_layer(const Tensor& xi, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh) {
  const char* op = "lstm_layer";
  KILN_CHECK(xi.defined() && w_hh.defined(), op, ": xi and w_hh must be defined");
  check_float(op, "xi", xi);
  KILN_CHECK(w_hh.dim() == 2 && w_hh.size(0) == 4 * w_hh.size(1), op, ": w_hh has shape ", shape_str(w_hh.shape()),
             ", expected [4·H, H]");
  const int64_t H = w_hh.size(1);
  KILN_CHECK(xi.dim() == 3 && xi.size(2) == 4 * H, op, ": xi has shape ", shape_str(xi.shape()), ", expected [T, N, ",
             4 * H, "]");
  const int64_t T = xi.size(0), N = xi.size(1);
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh}) {
    if (!t->defined()) continue;
    KILN_CHECK(t->dtype() == xi.dtype(), op, ": every argument must have xi's dtype ", dtype_name(xi.dtype()));
  }
  KILN_CHECK(!h0.defined() || h0.shape() == Shape({N, H}), op, ": h0 must have shape [", N, ", ", H, "]");
  KILN_CHECK(!c0.defined() || c0.shape() == Shape({N, H}), op, ": c0 must have shape [", N, ", ", H, "]");
  KILN_CHECK(!b_hh.defined() || b_hh.shape() == Shape({4 * H}), op, ": b_hh must have shape [", 4 * H, "]");
  const Device device = common_device(op, {&xi, &h0, &c0, &w_hh, &b_hh});

  Tensor gates, hs, cs, w;
  {
    NoGradGuard no_grad;
    const TensorOptions options = xi.options();
    gates = b_hh.defined() ? add(xi.detach(), b_hh.detach()) : contiguous(xi.detach()).clone();
    w = contiguous_data(w_hh);
    hs = empty({T + 1, N, H}, options);  // h_{−1} = h0, then h_t of every step
    cs = empty({T + 1, N, H}, options);
    if (h0.defined()) copy_data(step_of(hs, 0), h0);
    else fill_data(step_of(hs, 0), 0.0);
    if (c0.defined()) copy_data(step_of(cs, 0), c0);
    else fill_data(step_of(cs, 0), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      Tensor gates_t = step_of(gates, t);
      gemm_add(gates_t, step_of(hs, t), w, /*transpose_b=*/true);
      KILN_DEVICE_CALL(device, op, lstm_cell_forward, xi.dtype(), N, H, gates_t.data(), step_of(cs, t).data(),
                       step_of(hs, t + 1).data(), step_of(cs, t + 1).data());
    }
  }
  // The outputs are views of the buffers (y and h_n share memory, as in PyTorch's cuDNN path).
  Tensor y = make_view(hs, {T, N, H}, {N * H, H, 1}, hs.offset() + N * H);
  Tensor h_n = step_of(hs, T), c_n = step_of(cs, T);
  if (any_requires_grad({&xi, &h0, &c0, &w_hh, &b_hh})) {
    auto node = std::make_shared<LstmLayerNode>(T, N, H);
    node->save(gates);
    node->save(hs);
    node->save(cs);
    node->save(w);
    std::vector<Tensor> outputs{y, h_n, c_n};
    record_op_list(node, {xi, h0, c0, w_hh, b_hh}, outputs);
  }
  return {y, h_n, c_n};
}

}  // namespace kiln
