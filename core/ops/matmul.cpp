// Matrix products: matmul (torch.matmul semantics, batched with broadcast batch dims) and linear.
// The CPU work is done by kernels/cpu/gemm (OpenBLAS when enabled, else the plain reference loop).
// CUDA work goes to kernels/cuda/gemm (cuBLAS, or kiln's SGEMM for float32 when selected), as strided-batched
// products over the broadcast batch. Strided inputs are handed to the GEMM as they are when their last two
// dims form a row-major matrix or its transpose (so x.t() costs no copy); anything else is made contiguous first.
#include <algorithm>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/strided_loop.h"
#include "kernels/cuda/gemm.h"

namespace kiln {
namespace {

// How a rows×cols matrix with strides (row_stride, col_stride) is read by the GEMM:
// stored row-major (trans false) or as the transpose of a row-major matrix (trans true), with its leading dim.
struct GemmOperand {
  bool trans;
  int64_t ld;
};

std::optional<GemmOperand> gemm_operand(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  // A dim of size 1 may carry any stride; it never moves the pointer.
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(cols, 1)))
    return GemmOperand{false, rows == 1 ? std::max<int64_t>(cols, 1) : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(rows, 1)))
    return GemmOperand{true, cols == 1 ? std::max<int64_t>(rows, 1) : col_stride};
  return std::nullopt;
}

// The operand for t's last two dims, copying t to contiguous memory when they cannot be read in place.
GemmOperand operand_for(Tensor& t) {
  const int64_t d = t.dim();
  std::optional<GemmOperand> op = gemm_operand(t.size(d - 2), t.size(d - 1), t.stride(d - 2), t.stride(d - 1));
  if (op) return *op;
  t = clone(t);
  return *gemm_operand(t.size(d - 2), t.size(d - 1), t.stride(d - 2), t.stride(d - 1));
}

void check_operands(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  check_float(op, a_name, a);
  check_float(op, b_name, b);
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a_name, " is ", dtype_name(a.dtype()), " and ", b_name,
             " is ", dtype_name(b.dtype()), " (convert one with .to(dtype))");
}

#if KILN_HAVE_CUDA
// The broadcast batch of a CUDA matmul cut into strided-batched GEMM calls: the batch dims (size-1 dims
// dropped) split into an outer part, looped on the host, and an inner run of `inner` products along which
// the offsets of a and b advance by the fixed strides inner_sa and inner_sb (0 where broadcast).
struct BatchSplit {
  Shape outer;
  Strides outer_sa, outer_sb;
  int64_t inner = 1, inner_sa = 0, inner_sb = 0;
};

BatchSplit split_batch(const Shape& batch, const Strides& sa, const Strides& sb) {
  Shape dims;
  Strides da, db;
  for (size_t d = 0; d < batch.size(); ++d)
    if (batch[d] != 1) {
      dims.push_back(batch[d]);
      da.push_back(sa[d]);
      db.push_back(sb[d]);
    }
  BatchSplit s;
  size_t first_inner = dims.size();
  // Grow the inner run from the innermost dim outwards while each operand's stride stays uniform: dim d
  // joins when its stride equals the run's stride times the run's length (for a and for b).
  while (first_inner > 0) {
    const size_t d = first_inner - 1;
    if (d == dims.size() - 1) {
      s.inner = dims[d];
      s.inner_sa = da[d];
      s.inner_sb = db[d];
    } else if (da[d] == s.inner_sa * s.inner && db[d] == s.inner_sb * s.inner) {
      s.inner *= dims[d];
    } else {
      break;
    }
    first_inner = d;
  }
  s.outer.assign(dims.begin(), dims.begin() + std::ptrdiff_t(first_inner));
  s.outer_sa.assign(da.begin(), da.begin() + std::ptrdiff_t(first_inner));
  s.outer_sb.assign(db.begin(), db.begin() + std::ptrdiff_t(first_inner));
  return s;
}

// The CUDA batched product: one strided-batched GEMM per outer batch index (one call when the batch is uniform).
void cuda_batched_matmul_into(Tensor a, Tensor b, const Tensor& y, const Shape& batch) {
  const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  if (y.numel() == 0) return;
  if (k == 0) {  // an empty sum: y = 0
    fill_data(y, 0.0);
    return;
  }
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  GemmOperand oa = operand_for(a), ob = operand_for(b);
  Strides sa = broadcast_strides(batch_a, Strides(a.strides().begin(), a.strides().end() - 2), batch);
  Strides sb = broadcast_strides(batch_b, Strides(b.strides().begin(), b.strides().end() - 2), batch);
  BatchSplit split = split_batch(batch, sa, sb);
  KILN_DISPATCH_FLOAT(a.dtype(), "matmul", [&]<class T>() {
    const T* pa = static_cast<const T*>(a.data());
    const T* pb = static_cast<const T*>(b.data());
    T* py = static_cast<T*>(y.data());
    int64_t outer_index = 0;
    cpu::for_each_strided<2>(split.outer, {split.outer_sa.data(), split.outer_sb.data()},
                             [&](const std::array<int64_t, 2>& offs) {
                               cuda::gemm_strided_batched<T>(oa.trans, ob.trans, n, m, k, T(1), pa + offs[0], oa.ld,
                                                             split.inner_sa, pb + offs[1], ob.ld, split.inner_sb, T(0),
                                                             py + outer_index * split.inner * n * m, m, n * m,
                                                             split.inner);
                               ++outer_index;
                             });
  });
}
#endif

// y = a·b for a [batch_a..., n, k], b [batch_b..., k, m] (both at least 2-D, no autograd), written
// into `y`, a contiguous tensor holding broadcast(batch_a, batch_b) × n × m elements in that order.
void batched_matmul_into(Tensor a, Tensor b, const Tensor& y) {
  NoGradGuard internal;  // the copies made here are not part of the graph
  const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
#if KILN_HAVE_CUDA
  if (a.device().is_cuda()) {
    cuda::use_device(a.device().index);
    cuda_batched_matmul_into(std::move(a), std::move(b), y, batch);
    return;
  }
#endif
  if (!a.device().is_cpu()) throw_no_kernel("matmul", a.device());
  GemmOperand oa = operand_for(a), ob = operand_for(b);
  Strides sa = broadcast_strides(batch_a, Strides(a.strides().begin(), a.strides().end() - 2), batch);
  Strides sb = broadcast_strides(batch_b, Strides(b.strides().begin(), b.strides().end() - 2), batch);
  KILN_DISPATCH_FLOAT(a.dtype(), "matmul", [&]<class T>() {
    const T* pa = static_cast<const T*>(a.data());
    const T* pb = static_cast<const T*>(b.data());
    T* py = static_cast<T*>(y.data());
    int64_t index = 0;
    cpu::for_each_strided<2>(batch, {sa.data(), sb.data()}, [&](const std::array<int64_t, 2>& offs) {
      cpu::gemm<T>(oa.trans, ob.trans, n, m, k, T(1), pa + offs[0], oa.ld, pb + offs[1], ob.ld, T(0),
                   py + index * n * m, m);
      ++index;
    });
  });
}

// The operands as matrices: a 1-D a becomes [1, k], a 1-D b becomes [k, 1] (torch.matmul's rule).
Tensor as_matrix_a(const Tensor& a) { return a.dim() == 1 ? unsqueeze(a, 0) : a; }
Tensor as_matrix_b(const Tensor& b) { return b.dim() == 1 ? unsqueeze(b, 1) : b; }

// The result shape of torch.matmul (the dims added for 1-D operands removed) and the full batched shape.
struct MatmulShapes {
  Shape full;    // [batch..., n, m]
  Shape result;  // full without the prepended/appended 1 of 1-D operands
};

MatmulShapes matmul_shapes(const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got shapes ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  const int64_t k_a = a.size(-1), k_b = b.dim() == 1 ? b.size(0) : b.size(-2);
  KILN_CHECK(k_a == k_b, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " cannot be multiplied (", k_a, " ≠ ", k_b, ": the last dim of a must equal ",
             b.dim() == 1 ? "the length of b" : "the second-to-last dim of b", ")");
  Shape batch_a = a.dim() > 2 ? Shape(a.shape().begin(), a.shape().end() - 2) : Shape{};
  Shape batch_b = b.dim() > 2 ? Shape(b.shape().begin(), b.shape().end() - 2) : Shape{};
  for (size_t i = 1; i <= std::min(batch_a.size(), batch_b.size()); ++i) {
    const int64_t da = batch_a[batch_a.size() - i], db = batch_b[batch_b.size() - i];
    KILN_CHECK(da == db || da == 1 || db == 1, "matmul: the batch dims ", shape_str(batch_a), " of a ",
               shape_str(a.shape()), " and ", shape_str(batch_b), " of b ", shape_str(b.shape()),
               " cannot be broadcast together (", da, " vs ", db, ")");
  }
  MatmulShapes s;
  s.full = broadcast_shapes(batch_a, batch_b, "matmul");
  s.result = s.full;
  const int64_t n = a.dim() == 1 ? 1 : a.size(-2), m = b.dim() == 1 ? 1 : b.size(-1);
  s.full.push_back(n);
  s.full.push_back(m);
  if (a.dim() > 1) s.result.push_back(n);
  if (b.dim() > 1) s.result.push_back(m);
  return s;
}

// ---- matmul: Y = A·B (batched, batch dims broadcast) ;  dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over the batch
// dims its operand was broadcast along (a 1-D operand's added dim is removed again). Composed from matmul.
struct MatmulNode final : Node {
  Shape full;  // the output as [batch..., n, m]
  MatmulNode() : Node(OpId::matmul) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor a = saved(0), b = saved(1);
    Tensor a_mat = as_matrix_a(a), b_mat = as_matrix_b(b);
    Tensor dy = reshape(g[0], full);
    Tensor da, db;
    if (needs_input_grad(0)) da = reshape(sum_to(matmul(dy, transpose(b_mat, -1, -2)), a_mat.shape()), a.shape());
    if (needs_input_grad(1)) {
      if (b_mat.dim() == 2 && full.size() > 2) {
        // b has no batch dims (so a carries the whole batch): fold the batch into the rows, one product
        // instead of a batch of products and a sum.
        const int64_t k = a_mat.size(-1), m = full.back();
        const int64_t rows = shape_numel(Shape(full.begin(), full.end() - 1));
        Tensor a_rows = reshape(a_mat, {rows, k});
        db = matmul(transpose(a_rows, 0, 1), reshape(dy, {rows, m}));
      } else {
        db = sum_to(matmul(transpose(a_mat, -1, -2), dy), b_mat.shape());
      }
      db = reshape(db, b.shape());
    }
    return {da, db};
  }
};

// ---- linear: Y = X·Wᵀ + b over X's leading dims ;  dX = dY·W, dW = dYᵀ·X, db = Σ dY (rows of all
// leading dims folded together). Backward composed from matmul and sum.
struct LinearNode final : Node {
  LinearNode() : Node(OpId::linear) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor x = saved(0), w = saved(1);
    const int64_t in = w.size(1), out = w.size(0);
    const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
    Tensor dy = reshape(g[0], {rows, out});
    Tensor dx, dw, db;
    if (needs_input_grad(0)) dx = reshape(matmul(dy, w), x.shape());
    if (needs_input_grad(1)) dw = matmul(transpose(dy, 0, 1), reshape(x, {rows, in}));
    if (needs_input_grad(2)) db = sum(dy, {0});
    return {dx, dw, db};
  }
};

}  // namespace

void set_cpu_blas_enabled(bool enabled) { cpu::set_blas_enabled(enabled); }
bool cpu_blas_enabled() { return cpu::blas_enabled(); }

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", "a", a, "b", b);
  common_device("matmul", {&a, &b});
  MatmulShapes shapes = matmul_shapes(a, b);
  Tensor y = empty(shapes.result, a.options());
  {
    NoGradGuard internal;
    batched_matmul_into(as_matrix_a(a), as_matrix_b(b), y);
  }
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<MatmulNode>();
    node->full = shapes.full;
    node->save(a);
    node->save(b);
    record_op(node, {&a, &b}, {&y});
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_operands("linear", "input", x, "weight", weight);
  KILN_CHECK(x.dim() >= 1, "linear: input must have at least 1 dim ([..., in_features]), got a 0-d tensor");
  KILN_CHECK(weight.dim() == 2, "linear: weight has ", weight.dim(), " dims, expected 2 ([out_features, in_features])",
             ", got shape ", shape_str(weight.shape()));
  const int64_t in = weight.size(1), out = weight.size(0);
  KILN_CHECK(x.size(-1) == in, "linear: input's last dim is ", x.size(-1), " but weight ", shape_str(weight.shape()),
             " expects in_features = ", in, " (input shape ", shape_str(x.shape()), ")");
  if (bias.defined()) {
    check_operands("linear", "input", x, "bias", bias);
    KILN_CHECK(bias.dim() == 1 && bias.size(0) == out, "linear: bias has shape ", shape_str(bias.shape()),
               ", expected [", out, "] (out_features of weight ", shape_str(weight.shape()), ")");
  }
  common_device("linear", {&x, &weight, &bias});
  Shape y_shape(x.shape().begin(), x.shape().end() - 1);
  const int64_t rows = shape_numel(y_shape);
  y_shape.push_back(out);
  Tensor y = empty(y_shape, x.options());
  if (y.numel() > 0) {  // (no rows or no outputs: nothing to compute, the op is recorded all the same)
    NoGradGuard internal;
    Tensor x_rows = reshape(x, {rows, in}), w = weight;
    GemmOperand ox = operand_for(x_rows), ow = operand_for(w);
    // op(B) must be Wᵀ: a row-major W is read transposed; a W that is itself a transposed view is not.
    if (bias.defined()) copy_data(y, bias);  // y starts as the bias broadcast over rows; GEMM adds with beta = 1
    KILN_DISPATCH_FLOAT(x.dtype(), "linear", [&]<class T>() {
      KILN_DEVICE_CALL(x.device(), "linear", gemm<T>, ox.trans, !ow.trans, rows, out, in, T(1),
                       static_cast<const T*>(x_rows.data()), ox.ld, static_cast<const T*>(w.data()), ow.ld,
                       bias.defined() ? T(1) : T(0), static_cast<T*>(y.data()), out);
    });
  }
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<LinearNode>();
    node->save(x);
    node->save(weight);
    record_op(node, {&x, &weight, &bias}, {&y});
  }
  return y;
}

}  // namespace kiln
