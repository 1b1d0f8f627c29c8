// Tensor metadata, creation, host access and in-place writes. Views and math are ops (core/ops/).
#include "core/tensor.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"
#include "kernels/cpu/copy.h"

namespace kiln {

// ---------------------------------------------------------------- metadata
static TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  KILN_CHECK(impl != nullptr, "use of an undefined tensor (default-constructed, or a gradient that was never computed)");
  return *impl;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Strides& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
int64_t Tensor::dim() const { return int64_t(shape().size()); }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
TensorOptions Tensor::options() const { return {.dtype = dtype(), .device = device()}; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }

bool Tensor::is_contiguous() const {
  const Shape& s = shape();
  const Strides& st = strides();
  if (shape_numel(s) == 0) return true;  // no element to be out of place (as PyTorch)
  int64_t expected = 1;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

void* Tensor::data() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<char*>(t.storage->data()) + t.offset * int64_t(dtype_size(t.dtype));
}

template <class T>
T* Tensor::data_ptr() const {
  KILN_CHECK(dtype() == dtype_of<T>::value, "data_ptr: tensor has dtype ", dtype_name(dtype()), ", asked for ",
             dtype_name(dtype_of<T>::value));
  return static_cast<T*>(data());
}
template float* Tensor::data_ptr<float>() const;
template double* Tensor::data_ptr<double>() const;
template int64_t* Tensor::data_ptr<int64_t>() const;
template int32_t* Tensor::data_ptr<int32_t>() const;
template uint8_t* Tensor::data_ptr<uint8_t>() const;
template bool* Tensor::data_ptr<bool>() const;

// ---------------------------------------------------------------- autograd
bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  TensorImpl& t = checked(impl_);
  KILN_CHECK(!t.grad_fn || on, "requires_grad_(false) on a tensor computed by an op: use detach() instead");
  KILN_CHECK(!on || is_floating(t.dtype), "requires_grad_: only floating point tensors can require grad, this one is ",
             dtype_name(t.dtype));
  if (!t.grad_fn) t.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
const Tensor& Tensor::grad() const { return checked(impl_).grad; }
void Tensor::set_grad(const Tensor& grad) const {
  KILN_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: gradient shape ", shape_str(grad.shape()),
             " does not match tensor shape ", shape_str(shape()));
  checked(impl_).grad = grad;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }
uint32_t Tensor::output_nr() const { return checked(impl_).output_nr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor seed = gradient;
  if (!seed.defined()) {
    KILN_CHECK(numel() == 1, "backward: the tensor has shape ", shape_str(shape()),
               "; a gradient can only be implied for a one-element tensor, pass one explicitly");
    seed = ones(shape(), options());
  } else {
    KILN_CHECK(seed.shape() == shape(), "backward: gradient shape ", shape_str(seed.shape()),
               " does not match tensor shape ", shape_str(shape()));
    KILN_CHECK(seed.dtype() == dtype(), "backward: gradient dtype ", dtype_name(seed.dtype()),
               " does not match tensor dtype ", dtype_name(dtype()));
    KILN_CHECK(seed.device() == device(), "backward: gradient on ", seed.device().str(), ", tensor on ",
               device().str());
  }
  run_backward({*this}, {seed}, retain_graph);
}

Tensor Tensor::detach() const {
  const TensorImpl& t = checked(impl_);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->offset = t.offset;
  impl->dtype = t.dtype;
  return Tensor(impl);
}

// ---------------------------------------------------------------- views: forward to the ops
Tensor Tensor::view(const Shape& s) const { return kiln::view(*this, s); }
Tensor Tensor::reshape(const Shape& s) const { return kiln::reshape(*this, s); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return kiln::flatten(*this, a, b); }
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return kiln::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return kiln::transpose(*this, a, b); }
Tensor Tensor::t() const {
  KILN_CHECK(dim() == 2, "t(): expects a 2-D tensor, got shape ", shape_str(shape()));
  return kiln::transpose(*this, 0, 1);
}
Tensor Tensor::slice(int64_t d, int64_t s, int64_t e, int64_t step) const { return kiln::slice(*this, d, s, e, step); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t len) const { return kiln::narrow(*this, d, s, len); }
Tensor Tensor::select(int64_t d, int64_t i) const { return kiln::select(*this, d, i); }
Tensor Tensor::operator[](int64_t i) const { return kiln::select(*this, 0, i); }
Tensor Tensor::expand(const Shape& s) const { return kiln::expand(*this, s); }
Tensor Tensor::unsqueeze(int64_t d) const { return kiln::unsqueeze(*this, d); }
Tensor Tensor::squeeze(int64_t d) const { return kiln::squeeze(*this, d); }
Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t v : shape())
    if (v != 1) s.push_back(v);
  return kiln::view(*this, s);
}
Tensor Tensor::contiguous() const { return kiln::contiguous(*this); }
Tensor Tensor::to(Device d) const { return kiln::to_device(*this, d); }
Tensor Tensor::to(DType t) const { return kiln::to_dtype(*this, t); }
Tensor Tensor::clone() const { return kiln::clone(*this); }

// ---------------------------------------------------------------- host access
double Tensor::item() const {
  KILN_CHECK(numel() == 1, "item(): the tensor has ", numel(), " elements (shape ", shape_str(shape()),
             "); item() needs exactly one");
  Tensor host = device().is_cpu() ? *this : to_device(detach(), Device::cpu());
  return cpu::read_as_double(host.data(), host.dtype(), 0);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = empty(shape(), {.dtype = dtype_of<T>::value});
  copy_data(host, detach());
  const T* p = host.data_ptr<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

// ---------------------------------------------------------------- in-place writes
static void check_inplace_allowed(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d)
    KILN_CHECK(!(t.shape()[d] > 1 && t.strides()[d] == 0), op, ": in-place write to an expanded view of shape ",
               shape_str(t.shape()), " (several elements share one memory location); clone() it first");
  KILN_CHECK(!(grad_mode_enabled() && t.requires_grad()), op, ": in-place write to a tensor that requires grad",
             t.is_leaf() ? " (a leaf: wrap parameter updates in a NoGradGuard)" : "; use the out-of-place op");
}

Tensor& Tensor::fill_(double value) {
  check_inplace_allowed(*this, "fill_");
  fill_data(*this, value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace_allowed(*this, "copy_");
  broadcast_strides(src.shape(), src.strides(), shape());  // throws on a shape that does not broadcast
  // Copy through a temporary when src overlaps dst's storage, so no element is read after it was written.
  Tensor from = src.storage() == storage() ? kiln::clone(src.detach()) : src.detach();
  copy_data(*this, from);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace_allowed(*this, "add_");
  NoGradGuard no_grad;
  Tensor sum = alpha == 1.0 ? add(detach(), other.detach()) : add(detach(), mul(other.detach(), alpha));
  KILN_CHECK(sum.shape() == shape(), "add_: result shape ", shape_str(sum.shape()), " differs from ", shape_str(shape()));
  copy_data(*this, sum);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace_allowed(*this, "mul_");
  NoGradGuard no_grad;
  copy_data(*this, mul(detach(), factor));
  storage()->bump_version();
  return *this;
}

// ---------------------------------------------------------------- creation
Tensor empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) KILN_CHECK(s >= 0, "cannot create a tensor of shape ", shape_str(shape), ": negative size");
  auto impl = std::make_shared<TensorImpl>();
  size_t bytes = 0;
  KILN_CHECK(!__builtin_mul_overflow(size_t(shape_numel(shape)), dtype_size(options.dtype), &bytes), "shape ",
             shape_str(shape), " of ", dtype_name(options.dtype), " needs more bytes than fit in memory addresses");
  impl->storage = std::make_shared<Storage>(bytes, options.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  Tensor t(impl);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  fill_data(t, value);
  if (rg) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.options()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  KILN_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
             "arange: start, end and step must be finite and step non-zero (got ", start, ", ", end, ", ", step, ")");
  int64_t n = int64_t(std::ceil((end - start) / step));
  n = std::max<int64_t>(n, 0);
  Tensor host = empty({n}, {.dtype = DType::Float64});
  double* p = host.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = start + double(i) * step;
  Tensor out = empty({n}, {.dtype = options.dtype, .device = options.device});
  copy_data(out, host);
  if (options.requires_grad) out.requires_grad_(true);
  return out;
}
Tensor arange(int64_t end, TensorOptions options) { return arange(0.0, double(end), 1.0, options); }

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  KILN_CHECK(int64_t(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape), " (", shape_numel(shape), " elements)");
  Tensor host = empty(shape, {.dtype = dtype_of<T>::value});
  std::copy(values.begin(), values.end(), host.data_ptr<T>());
  Tensor out = empty(shape, {.dtype = options.dtype, .device = options.device});
  copy_data(out, host);
  if (options.requires_grad) out.requires_grad_(true);
  return out;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_vector(std::vector<double>(values), {int64_t(values.size())}, options);
}

Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

}  // namespace kiln
