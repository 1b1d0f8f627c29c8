// Fused LSTM and GRU cells: the gate nonlinearities and state update of one time step in one kernel
// (forward) and one backward kernel, instead of a dozen elementwise ops. The gate pre-activations
// (x·W_ihᵀ + b_ih, h·W_hhᵀ + b_hh) are computed before, with linear; the per-unit math is in
// kernels/common/rnn_cell_math.h.
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/rnn_cell.h"
#include "kernels/cuda/rnn_cell.h"

namespace kiln {
namespace {

Tensor contiguous_data(const Tensor& x) {
  NoGradGuard no_grad;
  return contiguous(x.detach());
}

void* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// Checks a cell input: defined, float of `like`'s dtype, 2-D [N, width].
void check_cell_input(const char* op, const char* arg, const Tensor& t, int64_t N, int64_t width, const char* layout,
                      const Tensor& like) {
  KILN_CHECK(t.defined(), op, ": ", arg, " is undefined");
  check_float(op, arg, t);
  KILN_CHECK(t.dtype() == like.dtype(), op, ": ", arg, " has dtype ", dtype_name(t.dtype()), ", expected ",
             dtype_name(like.dtype()));
  KILN_CHECK(t.dim() == 2 && t.size(0) == N && t.size(1) == width, op, ": ", arg, " has shape ", shape_str(t.shape()),
             ", expected [", N, ", ", width, "] (", layout, ")");
}

// ---- lstm_cell backward: gradients may arrive for h only, c only, or both (missing ones are zeros)
struct LstmCellNode final : Node {
  int64_t N, H;
  LstmCellNode(int64_t n, int64_t h) : Node(OpId::lstm_cell), N(n), H(h) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor gates = saved(0), c_prev = saved(1), c = saved(2);
    Tensor dh = contiguous(grad_or_zeros(g, 0)), dc = contiguous(grad_or_zeros(g, 1));
    Tensor dgates = needs_input_grad(0) ? empty(gates.shape(), gates.options()) : Tensor();
    Tensor dc_prev = needs_input_grad(1) ? empty(c_prev.shape(), c_prev.options()) : Tensor();
    KILN_DEVICE_CALL(gates.device(), name(), lstm_cell_backward, gates.dtype(), N, H, gates.data(), c_prev.data(),
                     c.data(), dh.data(), dc.data(), data_or_null(dgates), data_or_null(dc_prev));
    return {dgates, dc_prev};
  }
};

// ---- gru_cell backward
struct GruCellNode final : Node {
  int64_t N, H;
  GruCellNode(int64_t n, int64_t h) : Node(OpId::gru_cell), N(n), H(h) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor gi = saved(0), gh = saved(1), h_prev = saved(2);
    Tensor dh = contiguous(g[0]);
    Tensor dgi = needs_input_grad(0) ? empty(gi.shape(), gi.options()) : Tensor();
    Tensor dgh = needs_input_grad(1) ? empty(gh.shape(), gh.options()) : Tensor();
    Tensor dh_prev = needs_input_grad(2) ? empty(h_prev.shape(), h_prev.options()) : Tensor();
    KILN_DEVICE_CALL(gi.device(), name(), gru_cell_backward, gi.dtype(), N, H, gi.data(), gh.data(), h_prev.data(),
                     dh.data(), data_or_null(dgi), data_or_null(dgh), data_or_null(dh_prev));
    return {dgi, dgh, dh_prev};
  }
};

}  // namespace

// lstm_cell: i, f, o = σ(gates), g = tanh(gate) ; c = f·c_prev + i·g ; h = o·tanh(c)   (fused kernel)
// dc_total = dc + dh·o·(1 − tanh²c) ; da_i = dc_total·g·i(1−i) ; da_f = dc_total·c_prev·f(1−f) ;
// da_g = dc_total·i(1 − g²) ; da_o = dh·tanh(c)·o(1−o) ; dc_prev = dc_total·f
std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c_prev) {
  const char* op = "lstm_cell";
  KILN_CHECK(gates.defined(), "lstm_cell: gates is undefined");
  check_float(op, "gates", gates);
  KILN_CHECK(gates.dim() == 2 && gates.size(1) % 4 == 0, "lstm_cell: gates has shape ", shape_str(gates.shape()),
             ", expected [N, 4·H] (gates i, f, g, o)");
  const int64_t N = gates.size(0), H = gates.size(1) / 4;
  check_cell_input(op, "c_prev", c_prev, N, H, "[N, H] with H = gates.size(1)/4", gates);
  const Device device = common_device(op, {&gates, &c_prev});

  Tensor gc = contiguous_data(gates), cc = contiguous_data(c_prev);
  Tensor h = empty({N, H}, gates.options()), c = empty({N, H}, gates.options());
  KILN_DEVICE_CALL(device, op, lstm_cell_forward, gates.dtype(), N, H, gc.data(), cc.data(), h.data(), c.data());
  if (any_requires_grad({&gates, &c_prev})) {
    auto node = std::make_shared<LstmCellNode>(N, H);
    node->save(gc);
    node->save(cc);
    node->save(c);
    record_op(node, {&gates, &c_prev}, {&h, &c});
  }
  return {h, c};
}

// gru_cell: r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r·gh_n) ; h = (1 − z)·n + z·h_prev  (fused)
// da_n = dh·(1 − z)(1 − n²) ; dgi_n = da_n, dgh_n = da_n·r ; dgi_r = dgh_r = da_n·gh_n·r(1−r) ;
// dgi_z = dgh_z = dh·(h_prev − n)·z(1−z) ; dh_prev = dh·z
Tensor gru_cell(const Tensor& gi, const Tensor& gh, const Tensor& h_prev) {
  const char* op = "gru_cell";
  KILN_CHECK(gi.defined(), "gru_cell: gi is undefined");
  check_float(op, "gi", gi);
  KILN_CHECK(gi.dim() == 2 && gi.size(1) % 3 == 0, "gru_cell: gi has shape ", shape_str(gi.shape()),
             ", expected [N, 3·H] (gates r, z, n)");
  const int64_t N = gi.size(0), H = gi.size(1) / 3;
  check_cell_input(op, "gh", gh, N, 3 * H, "the same as gi", gi);
  check_cell_input(op, "h_prev", h_prev, N, H, "[N, H] with H = gi.size(1)/3", gi);
  const Device device = common_device(op, {&gi, &gh, &h_prev});

  Tensor gic = contiguous_data(gi), ghc = contiguous_data(gh), hc = contiguous_data(h_prev);
  Tensor h = empty({N, H}, gi.options());
  KILN_DEVICE_CALL(device, op, gru_cell_forward, gi.dtype(), N, H, gic.data(), ghc.data(), hc.data(), h.data());
  if (any_requires_grad({&gi, &gh, &h_prev})) {
    auto node = std::make_shared<GruCellNode>(N, H);
    node->save(gic);
    node->save(ghc);
    node->save(hc);
    record_op(node, {&gi, &gh, &h_prev}, {&h});
  }
  return h;
}

}  // namespace kiln
