// Indexing and joining: embedding, index_select, gather, one_hot, cat, and the composites stack,
// split and chunk. Index tensors are int64. On the CPU their values are checked to be in range before
// any kernel runs. On CUDA, reading them on the host would synchronize the device, so the kernels
// check them instead: an out-of-range value gives 0 (never a stray memory access) and is recorded,
// and the next CUDA indexing call throws the error (kernels/cuda/index.h, raise_index_errors).
// The backwards of the indexing ops are scatter-adds that sum in index order (deterministic).
#include <algorithm>

#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/index.h"
#include "kernels/cuda/index.h"

namespace kiln {
namespace {

void check_int64(const char* op, const char* arg, const Tensor& t) {
  KILN_CHECK(t.defined(), op, ": '", arg, "' is an undefined tensor");
  KILN_CHECK(t.dtype() == DType::Int64, op, ": '", arg, "' must be int64, got ", dtype_name(t.dtype()));
}

// Checks that every value of a contiguous int64 tensor lies in [0, size); `dim` < 0 names rows.
// CPU tensors only: CUDA kernels check their indices on the device (see the top of this file).
void check_index_range(const char* op, const Tensor& index, int64_t size, int64_t dim) {
  if (!index.device().is_cpu()) return;
  const int64_t* p = index.data_ptr<int64_t>();
  for (int64_t i = 0, n = index.numel(); i < n; ++i) {
    if (p[i] >= 0 && p[i] < size) continue;
    if (dim < 0) KILN_FAIL(op, ": index ", p[i], " is out of range for ", size, " rows");
    KILN_FAIL(op, ": index ", p[i], " is out of range for dim ", dim, " of size ", size);
  }
}

// ---- embedding: y[…, :] = W[idx[…], :] ;  dW[v] = Σ_{i: idx[i] = v} dy[i] for v ≠ padding_idx
//      (a scatter-add in index order; the padding row and the indices get no gradient)
struct EmbeddingNode final : Node {
  Shape weight_shape;
  int64_t padding_idx;
  EmbeddingNode() : Node(OpId::embedding) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor idx = saved(0);
    Tensor dy = reshape(g[0], {idx.numel(), weight_shape[1]});
    Tensor dw = empty(weight_shape, dy.options());
    KILN_DEVICE_CALL(dw.device(), "embedding_backward", index_select_backward, dw.dtype(), weight_shape, 0,
                     idx.data_ptr<int64_t>(), idx.numel(), padding_idx, dy.data(), dy.strides().data(), dw.data());
    return {dw, Tensor()};
  }
};

// ---- index_select: y = x[…, index, …] along dim ;  dx = index_add: dx[…, index[i], …] += dy[…, i, …]
struct IndexSelectNode final : Node {
  Shape input_shape;  // as the kernel sees it: a 0-d x is [1]
  Shape output_shape;
  int64_t dim;
  IndexSelectNode() : Node(OpId::index_select) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor idx = saved(0);
    Tensor dy = reshape(g[0], output_shape);
    Tensor dx = empty(input_shape, dy.options());
    KILN_DEVICE_CALL(dx.device(), "index_select_backward", index_select_backward, dx.dtype(), input_shape, dim,
                     idx.data_ptr<int64_t>(), idx.numel(), -1, dy.data(), dy.strides().data(), dx.data());
    return {reshape(dx, input_meta()[0].shape), Tensor()};
  }
};

// ---- gather: y[p] = x[p with p[dim] = index[p]] ;  dx = scatter_add: dx[p with p[dim] = index[p]] += dy[p]
struct GatherNode final : Node {
  Shape input_shape, index_shape;  // as the kernel sees them: 0-d tensors are [1]
  int64_t dim;
  GatherNode() : Node(OpId::gather) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor idx = saved(0);
    Tensor dy = reshape(g[0], index_shape);
    Tensor dx = empty(input_shape, dy.options());
    KILN_DEVICE_CALL(dx.device(), "gather_backward", gather_backward, dx.dtype(), input_shape, index_shape,
                     idx.strides().data(), idx.data_ptr<int64_t>(), dim, dy.data(), dy.strides().data(), dx.data());
    return {reshape(dx, input_meta()[0].shape), Tensor()};
  }
};

// ---- cat: y = [x₀ | x₁ | …] along dim ;  dxᵢ = dy[offsetᵢ : offsetᵢ + sizeᵢ] along dim (views of dy)
struct CatNode final : Node {
  int64_t dim;
  std::vector<int64_t> offsets, sizes;  // size −1: a skipped empty input (no gradient)
  CatNode() : Node(OpId::cat) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    std::vector<Tensor> dx(sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (!needs_input_grad(i)) continue;
      dx[i] = sizes[i] >= 0 ? slice(g[0], dim, offsets[i], offsets[i] + sizes[i]) : zeros({0}, g[0].options());
    }
    return dx;
  }
};

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  check_float("embedding", "weight", weight);
  check_int64("embedding", "indices", indices);
  KILN_CHECK(weight.dim() == 2, "embedding: weight has ", weight.dim(), " dims (shape ", shape_str(weight.shape()),
             "), expected 2 ([num_embeddings, embedding_dim])");
  const int64_t rows = weight.size(0), width = weight.size(1);
  // Unlike PyTorch (where None means "no padding" and negative values wrap), -1 means none here.
  KILN_CHECK(padding_idx == -1 || (padding_idx >= 0 && padding_idx < rows), "embedding: padding_idx ", padding_idx,
             " must be -1 (none) or within the ", rows, " rows");
  Device device = common_device("embedding", {&weight, &indices});
  Tensor idx = contiguous(indices);
  check_index_range("embedding", idx, rows, -1);
  Shape out_shape = indices.shape();
  out_shape.push_back(width);
  Tensor y = empty(out_shape, weight.options());
  KILN_DEVICE_CALL(device, "embedding", index_select_forward, weight.dtype(), weight.shape(), weight.strides().data(),
                   weight.data(), 0, idx.data_ptr<int64_t>(), idx.numel(), y.data());
  if (any_requires_grad({&weight})) {
    auto node = std::make_shared<EmbeddingNode>();
    node->weight_shape = weight.shape();
    node->padding_idx = padding_idx;
    node->save(idx);
    record_op(node, {&weight, &indices}, {&y});
  }
  return y;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  KILN_CHECK(x.defined(), "index_select: 'x' is an undefined tensor");
  check_int64("index_select", "index", index);
  KILN_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", shape_str(index.shape()));
  dim = wrap_dim(dim, x.dim(), "index_select");
  Device device = common_device("index_select", {&x, &index});
  Shape x_shape = x.dim() == 0 ? Shape{1} : x.shape();
  Strides x_strides = x.dim() == 0 ? Strides{1} : x.strides();
  Tensor idx = contiguous(index);
  check_index_range("index_select", idx, x_shape[dim], dim);
  Shape kernel_out = x_shape;
  kernel_out[dim] = idx.numel();
  KILN_CHECK(x.dim() > 0 || idx.numel() == 1, "index_select: a 0-d x takes an index of one element, got ",
             idx.numel());
  Tensor y = empty(x.dim() == 0 ? Shape{} : kernel_out, x.options());
  KILN_DEVICE_CALL(device, "index_select", index_select_forward, x.dtype(), x_shape, x_strides.data(), x.data(), dim,
                   idx.data_ptr<int64_t>(), idx.numel(), y.data());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<IndexSelectNode>();
    node->input_shape = x_shape;
    node->output_shape = kernel_out;
    node->dim = dim;
    node->save(idx);
    record_op(node, {&x, &index}, {&y});
  }
  return y;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  KILN_CHECK(x.defined(), "gather: 'x' is an undefined tensor");
  check_int64("gather", "index", index);
  KILN_CHECK(index.dim() == x.dim() || (x.dim() <= 1 && index.dim() <= 1), "gather: index has ", index.dim(),
             " dims (shape ", shape_str(index.shape()), ") but x has ", x.dim(), " (shape ", shape_str(x.shape()),
             "); they must have the same number of dims");
  dim = wrap_dim(dim, x.dim(), "gather");
  Device device = common_device("gather", {&x, &index});
  // A 0-d x or index is seen as 1-D of size 1.
  Shape x_shape = x.dim() == 0 ? Shape{1} : x.shape();
  Strides x_strides = x.dim() == 0 ? Strides{1} : x.strides();
  Tensor idx = contiguous(index);
  Shape index_shape = idx.dim() == 0 ? Shape{1} : idx.shape();
  for (size_t d = 0; d < x_shape.size(); ++d)
    KILN_CHECK(int64_t(d) == dim || index_shape[d] <= x_shape[d], "gather: index of shape ", shape_str(index.shape()),
               " is larger than x of shape ", shape_str(x.shape()), " in dim ", d, " (only dim ", dim,
               " may be larger)");
  check_index_range("gather", idx, x_shape[dim], dim);
  Tensor y = empty(index.shape(), x.options());
  Strides index_strides = idx.dim() == 0 ? Strides{1} : idx.strides();
  if (device.is_cpu()) {
    cpu::gather_forward(x.dtype(), index_shape, index_strides.data(), idx.data_ptr<int64_t>(), x_strides.data(),
                        x.data(), dim, y.data());
  } else {
#if KILN_HAVE_CUDA
    // The CUDA kernel also takes x's size along dim: it checks the index values itself.
    cuda::use_device(device.index);
    cuda::gather_forward(x.dtype(), index_shape, index_strides.data(), idx.data_ptr<int64_t>(), x_strides.data(),
                         x.data(), dim, y.data(), x_shape[size_t(dim)]);
#else
    throw_no_kernel("gather", device);
#endif
  }
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<GatherNode>();
    node->input_shape = x_shape;
    node->index_shape = index_shape;
    node->dim = dim;
    node->save(idx.dim() == 0 ? reshape(idx, {1}) : idx);
    record_op(node, {&x, &index}, {&y});
  }
  return y;
}

// one_hot: y[…, c] = [indices[…] = c]  (int64, no gradient); num_classes = −1 means max(indices) + 1
Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  check_int64("one_hot", "indices", indices);
  KILN_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ", num_classes);
  const Device device = indices.device();
  Tensor idx = contiguous(indices);
  const int64_t n = idx.numel();
  // The values are read on the host on the CPU, and on CUDA only to infer num_classes (a device sync,
  // as in PyTorch: pass num_classes to avoid it); otherwise the CUDA kernel checks them.
  Tensor host = device.is_cpu() || num_classes == -1 ? idx.cpu() : Tensor();
  if (host.defined()) {
    const int64_t* p = host.data_ptr<int64_t>();
    if (num_classes == -1) {
      KILN_CHECK(n > 0, "one_hot: cannot infer num_classes from an empty tensor; pass num_classes");
      num_classes = *std::max_element(p, p + n) + 1;
    }
    for (int64_t i = 0; i < n; ++i) {
      KILN_CHECK(p[i] >= 0, "one_hot: class values must be non-negative, got ", p[i]);
      KILN_CHECK(p[i] < num_classes, "one_hot: class value ", p[i], " is out of range for num_classes ", num_classes);
    }
  }
  KILN_CHECK(num_classes > 0 || n == 0, "one_hot: num_classes is 0 but there are ", n,
             " class values (none can be in range)");
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor y = empty(shape, {.dtype = DType::Int64, .device = device});
  KILN_DEVICE_CALL(device, "one_hot", one_hot, idx.data_ptr<int64_t>(), n, num_classes, y.data_ptr<int64_t>());
  return y;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  KILN_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  // As in PyTorch, 1-D empty tensors (shape [0]) are skipped whatever the others' shapes (legacy behaviour).
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; };
  const Tensor* ref = nullptr;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    KILN_CHECK(t.defined(), "cat: tensor ", i, " is undefined");
    KILN_CHECK(t.dim() > 0, "cat: zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    KILN_CHECK(t.dtype() == tensors[0].dtype(), "cat: expected all tensors to have the same dtype, got ",
               dtype_name(tensors[0].dtype()), " (tensor 0) and ", dtype_name(t.dtype()), " (tensor ", i, ")");
    KILN_CHECK(t.device() == tensors[0].device(), "cat: expected all tensors on one device, got ",
               tensors[0].device().str(), " (tensor 0) and ", t.device().str(), " (tensor ", i, ")");
    if (!ref && !skipped(t)) ref = &t;
  }
  if (!ref) ref = &tensors[0];  // all empty: the result is empty too
  dim = wrap_dim(dim, ref->dim(), "cat");
  Shape shape = ref->shape();
  shape[dim] = 0;
  std::vector<int64_t> offsets(tensors.size(), 0), sizes(tensors.size(), -1);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t) && &t != ref) continue;
    KILN_CHECK(t.dim() == ref->dim(), "cat: tensors must have the same number of dims, got ", shape_str(ref->shape()),
               " and ", shape_str(t.shape()), " (tensor ", i, ")");
    for (int64_t d = 0; d < t.dim(); ++d)
      KILN_CHECK(d == dim || t.size(d) == ref->size(d), "cat: sizes of tensors must match except in dim ", dim,
                 ": expected ", shape_str(ref->shape()), " but got ", shape_str(t.shape()), " for tensor ", i);
    offsets[i] = shape[dim];
    sizes[i] = t.size(dim);
    shape[dim] += t.size(dim);
  }
  Tensor y = empty(shape, ref->options());
  for (size_t i = 0; i < tensors.size(); ++i)
    if (sizes[i] > 0)
      copy_data(make_view(y, tensors[i].shape(), y.strides(), y.offset() + offsets[i] * y.stride(dim)), tensors[i]);
  if (any_requires_grad(tensors)) {
    auto node = std::make_shared<CatNode>();
    node->dim = dim;
    node->offsets = offsets;
    node->sizes = sizes;
    std::vector<Tensor> outputs{y};
    record_op_list(node, tensors, outputs);
  }
  return y;
}

// composite: stack(xs, dim) = cat([unsqueeze(x, dim) for x in xs], dim)
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  KILN_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    KILN_CHECK(tensors[i].defined(), "stack: tensor ", i, " is undefined");
    KILN_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expects each tensor to be equal size, but got ",
               shape_str(tensors[0].shape()), " at entry 0 and ", shape_str(tensors[i].shape()), " at entry ", i);
  }
  dim = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, dim));
  return cat(parts, dim);
}

// composite: split(x, s, dim) = views narrow(x, dim, k·s, s), the last one shorter when s ∤ n
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "split: expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.size(dim);
  KILN_CHECK(split_size >= 0, "split: split_size must be non-negative, got ", split_size);
  KILN_CHECK(split_size > 0 || n == 0, "split: split_size can only be 0 if dim ", dim, " has size 0, got size ", n);
  int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>((n + split_size - 1) / split_size, 1);
  std::vector<Tensor> out;
  out.reserve(size_t(pieces));
  for (int64_t k = 0; k < pieces; ++k) {
    int64_t start = k * split_size;
    out.push_back(narrow(x, dim, start, std::min(split_size, n - start)));
  }
  return out;
}

// composite: split(x, sizes, dim) = views narrow(x, dim, Σ sizes[<k], sizes[k])
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "split: expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.size(dim);
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split: split sizes must be non-negative, got ", s);
    total += s;
  }
  KILN_CHECK(total == n, "split: split sizes must sum exactly to ", n, " (the size of dim ", dim, "), but they sum to ",
             total);
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, dim, start, s));
    start += s;
  }
  return out;
}

// composite: chunk(x, c, dim) = split(x, ⌈n/c⌉, dim) (so possibly fewer than c chunks, as in PyTorch)
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  KILN_CHECK(x.dim() > 0, "chunk: expects at least a 1-dimensional tensor");
  KILN_CHECK(chunks > 0, "chunk: chunks must be greater than 0, got ", chunks);
  dim = wrap_dim(dim, x.dim(), "chunk");
  const int64_t n = x.size(dim);
  const int64_t split_size = (n + chunks - 1) / chunks;
  // An empty dim gives `chunks` empty pieces (split would give one).
  if (n == 0) return split(x, std::vector<int64_t>(size_t(chunks), 0), dim);
  return split(x, split_size, dim);
}

}  // namespace kiln
