// Softmax and log-softmax along one dim, any dim of any strided tensor. The forward subtracts each
// line's max before exponentiating; both backwards are kernels that use only the saved output y.
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/softmax.h"

namespace kiln {
namespace {

struct SoftmaxNode final : Node {
  int64_t dim;
  explicit SoftmaxNode(OpId id) : Node(id) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor y = saved(0);
    const Tensor& dy = g[0];
    Tensor dx = empty(y.shape(), y.options());
    KILN_DEVICE_CALL(y.device(), name(), softmax_backward, op() == OpId::log_softmax, y.dtype(), y.shape(), dim,
                     y.data(), y.strides().data(), dy.data(), dy.strides().data(), dx.data());
    return {dx};
  }
};

Tensor softmax_op(OpId id, const Tensor& x, int64_t dim_in) {
  const char* op = op_name(id);
  check_float(op, "x", x);
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  if (x.dim() == 0) return view(softmax_op(id, reshape(x, {1}), 0), {});  // a 0-d tensor is a line of one
  Tensor y = empty(x.shape(), x.options());
  KILN_DEVICE_CALL(x.device(), op, softmax_forward, id == OpId::log_softmax, x.dtype(), x.shape(), dim, x.data(),
                   x.strides().data(), y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SoftmaxNode>(id);
    node->dim = dim;
    node->save(y);
    record_op(node, {&x}, {&y});
  }
  return y;
}

}  // namespace

// softmax: y = e^{x − m}/Σ e^{x − m} along dim (m = max) ;  dx = y·(dy − Σ dy·y)
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(OpId::softmax, x, dim); }

// log_softmax: y = x − m − ln Σ e^{x − m} along dim ;  dx = dy − eʸ·Σ dy
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(OpId::log_softmax, x, dim); }

}  // namespace kiln
