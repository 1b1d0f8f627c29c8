// Views and copies. A view shares its input's storage (and so its version counter); only shape,
// strides and offset change. Their backwards route the gradient back to the input's layout.
#include <algorithm>
#include <optional>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"

namespace kiln {
namespace {

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), or none when
// a copy is needed. Dims are merged into chunks that are contiguous in memory; a view may
// only split or merge dims within a chunk.
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape) {
  if (old_shape.empty() || shape_numel(old_shape) == 0) return contiguous_strides(new_shape);
  Strides out(new_shape.size());
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_base;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base = old_strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves one -1 in a requested shape; checks the element count.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op) {
  Shape s = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      KILN_CHECK(infer_at < 0, op, ": only one dimension can be -1 in ", shape_str(requested));
      infer_at = int64_t(i);
    } else {
      KILN_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in ", shape_str(requested));
      KILN_CHECK(!__builtin_mul_overflow(known, s[i], &known), op, ": shape ", shape_str(requested),
                 " has more elements than fit in int64");
    }
  }
  if (infer_at >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested), " is invalid for ", numel,
               " elements");
    s[infer_at] = numel / known;
  }
  KILN_CHECK(shape_numel(s) == numel, op, ": shape ", shape_str(requested), " is invalid for input of ", numel,
             " elements");
  return s;
}

// ---- view: y = x seen with another shape;  dx = reshape(dy, x.shape)
struct ViewNode final : Node {
  Shape input_shape;
  ViewNode() : Node(OpId::view) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {reshape(g[0], input_shape)}; }
};

// ---- permute: y = xᵀ along `dims`;  dx = permute(dy, inverse(dims))
struct PermuteNode final : Node {
  std::vector<int64_t> inverse;
  PermuteNode() : Node(OpId::permute) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {permute(g[0], inverse)}; }
};

// ---- expand: y = x broadcast to a larger shape (stride 0);  dx = sum of dy over the broadcast dims
struct ExpandNode final : Node {
  Shape input_shape;
  ExpandNode() : Node(OpId::expand) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {sum_to(g[0], input_shape)}; }
};

// ---- slice: y = x[start:end:step] along dim;  dx = zeros with dy written into that slice (apply: the plain
// reference; the engine adds dy into that slice of one buffer per input instead, see covers_part_of_input)
struct SliceNode final : Node {
  Shape input_shape;
  int64_t dim, start, end, step;
  SliceNode() : Node(OpId::slice) {}
  bool covers_part_of_input() const override { return true; }
  Tensor input_grad_region(const Tensor& dx) const override {
    NoGradGuard no_grad;
    return slice(dx, dim, start, end, step);
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor dx = zeros(input_shape, g[0].options());
    copy_data(slice(dx, dim, start, end, step), g[0]);
    return {dx};
  }
};

// ---- select: y = x[index] along dim (the dim disappears);  dx = zeros with dy written at index (as slice)
struct SelectNode final : Node {
  Shape input_shape;
  int64_t dim, index;
  SelectNode() : Node(OpId::select) {}
  bool covers_part_of_input() const override { return true; }
  Tensor input_grad_region(const Tensor& dx) const override {
    NoGradGuard no_grad;
    return select(dx, dim, index);
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    Tensor dx = zeros(input_shape, g[0].options());
    copy_data(select(dx, dim, index), g[0]);
    return {dx};
  }
};

// ---- clone: y = a contiguous copy of x;  dx = dy
struct CloneNode final : Node {
  CloneNode() : Node(OpId::clone) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {g[0]}; }
};

// ---- to_dtype: y = x converted;  dx = dy converted back to x's dtype
struct ToDtypeNode final : Node {
  DType input_dtype;
  ToDtypeNode() : Node(OpId::to_dtype) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {to_dtype(g[0], input_dtype)}; }
};

// ---- to_device: y = x copied to another device;  dx = dy copied back
struct ToDeviceNode final : Node {
  Device input_device;
  ToDeviceNode() : Node(OpId::to_device) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {to_device(g[0], input_device)}; }
};

}  // namespace

Tensor view(const Tensor& x, const Shape& requested) {
  Shape shape = infer_shape(requested, x.numel(), "view");
  std::optional<Strides> strides = view_strides(x.shape(), x.strides(), shape);
  KILN_CHECK(strides.has_value(), "view: cannot view a tensor of shape ", shape_str(x.shape()), " and strides ",
             shape_str(x.strides()), " as ", shape_str(shape), " without a copy; use reshape()");
  Tensor y = make_view(x, shape, *strides, x.offset());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ViewNode>();
    node->input_shape = x.shape();
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = infer_shape(requested, x.numel(), "reshape");
  if (view_strides(x.shape(), x.strides(), shape)) return view(x, shape);
  return view(clone(x), shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  KILN_CHECK(int64_t(dims.size()) == x.dim(), "permute: got ", dims.size(), " dims for a tensor of ", x.dim(), " dims");
  std::vector<int64_t> d(dims.size()), inverse(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape shape(dims.size());
  Strides strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    d[i] = wrap_dim(dims[i], x.dim(), "permute");
    KILN_CHECK(!used[d[i]], "permute: dim ", d[i], " appears twice");
    used[d[i]] = true;
    shape[i] = x.shape()[d[i]];
    strides[i] = x.strides()[d[i]];
    inverse[d[i]] = int64_t(i);
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<PermuteNode>();
    node->inverse = inverse;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> dims(size_t(x.dim()));
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  if (x.dim() == 0) return permute(x, dims);
  std::swap(dims[wrap_dim(dim0, x.dim(), "transpose")], dims[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor expand(const Tensor& x, const Shape& requested) {
  KILN_CHECK(requested.size() >= x.shape().size(), "expand: cannot expand shape ", shape_str(x.shape()), " to ",
             shape_str(requested), " (fewer dims)");
  Shape shape = requested;
  size_t lead = shape.size() - x.shape().size();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KILN_CHECK(i >= lead, "expand: -1 is not allowed for a new leading dim in ", shape_str(requested));
      shape[i] = x.shape()[i - lead];
    }
    KILN_CHECK(shape[i] >= 0, "expand: invalid size ", shape[i], " in ", shape_str(requested));
    KILN_CHECK(i < lead || x.shape()[i - lead] == 1 || x.shape()[i - lead] == shape[i], "expand: cannot expand shape ",
               shape_str(x.shape()), " to ", shape_str(requested), " (dim ", i, ")");
  }
  Tensor y = make_view(x, shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ExpandNode>();
    node->input_shape = x.shape();
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  KILN_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "slice");
  KILN_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = x.shape()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[dim] = end == start ? 0 : (end - start - 1) / step + 1;  // written so a huge step cannot overflow
  strides[dim] *= step;
  Tensor y = make_view(x, shape, strides, x.offset() + start * x.strides()[dim]);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SliceNode>();
    node->input_shape = x.shape();
    node->dim = dim;
    node->start = start;
    node->end = end;
    node->step = step;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  KILN_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  int64_t n = x.shape()[wrap_dim(dim, x.dim(), "narrow")];
  if (start < 0) start += n;
  KILN_CHECK(start >= 0 && start <= n && length >= 0 && length <= n - start, "narrow: start ", start, " and length ", length,
             " exceed dim of size ", n);
  return slice(x, dim, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  KILN_CHECK(x.dim() > 0, "select: cannot index a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.shape()[dim];
  KILN_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", dim, " of size ", n);
  if (index < 0) index += n;
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor y = make_view(x, shape, strides, x.offset() + index * x.strides()[dim]);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SelectNode>();
    node->input_shape = x.shape();
    node->dim = dim;
    node->index = index;
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + dim, 1);
  return view(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  dim = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[dim] != 1) return x;
  Shape shape = x.shape();
  shape.erase(shape.begin() + dim);
  return view(x, shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  KILN_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor& x) {
  Tensor y = empty(x.shape(), x.options());
  copy_data(y, x);
  if (any_requires_grad({&x})) record_op(std::make_shared<CloneNode>(), {&x}, {&y});
  return y;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor y = empty(x.shape(), {.dtype = dtype, .device = x.device()});
  copy_data(y, x);
  if (is_floating(dtype) && any_requires_grad({&x})) {
    auto node = std::make_shared<ToDtypeNode>();
    node->input_dtype = x.dtype();
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor y = empty(x.shape(), {.dtype = x.dtype(), .device = device});
  copy_data(y, x);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ToDeviceNode>();
    node->input_device = x.device();
    record_op(node, {&x}, {&y});
  }
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  KILN_CHECK(shape.size() <= x.shape().size(), "sum_to: cannot reduce ", shape_str(x.shape()), " to ", shape_str(shape));
  size_t lead = x.shape().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    if (i < lead) dims.push_back(int64_t(i));
    else if (shape[i - lead] == 1 && x.shape()[i] != 1) dims.push_back(int64_t(i));
    else KILN_CHECK(shape[i - lead] == x.shape()[i], "sum_to: cannot reduce ", shape_str(x.shape()), " to ",
                    shape_str(shape));
  }
  if (dims.empty()) return view(x, shape);
  return reshape(sum(x, dims, true), shape);
}

}  // namespace kiln
