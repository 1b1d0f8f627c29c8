// kiln::Tensor: a shared handle to an n-dimensional view (shape, strides, offset) of a Storage,
// with the autograd fields (requires_grad, grad, grad_fn). Copying a Tensor copies the handle,
// never the data. The functional ops live in core/ops/ops.h; methods here forward to them.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace kiln {

class Node;
struct TensorImpl;

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t offset() const;
  int64_t dim() const;
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  TensorOptions options() const;    // dtype and device (requires_grad false)
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;

  // Pointer to the first element (storage start + offset); a device pointer for CUDA tensors.
  void* data() const;
  template <class T> T* data_ptr() const;  // checks that T matches dtype()

  // ---- autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);   // only on leaves (tensors no op produced)
  bool is_leaf() const;
  const Tensor& grad() const;               // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad) const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  // Runs reverse-mode autodiff from this tensor. `gradient` may be omitted for a one-element tensor.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;                    // same data, no history, requires_grad false

  // ---- views and shape (differentiable; see core/ops/views.cpp)
  Tensor view(const Shape& shape) const;    // -1 allowed once; needs compatible strides
  Tensor reshape(const Shape& shape) const; // a view when possible, else a copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;                         // transpose of a 2-D tensor
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const;   // select(0, index)
  Tensor expand(const Shape& shape) const;  // -1 keeps a dim
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor contiguous() const;                // itself when already contiguous

  // ---- conversion
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor clone() const;
  double item() const;                      // one-element tensor → double (syncs with the device)
  template <class T> std::vector<T> to_vector() const;  // all elements, row-major, copied to the host
  std::string str() const;                  // readable printing, like PyTorch's repr

  // ---- in-place (bump the version counter; refused on tensors that require grad in grad mode)
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);         // src broadcast to this shape, any dtype/device
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double factor);

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// What a Tensor handle points at. Views share `storage`.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;
  // autograd
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor scalar_tensor(double value, TensorOptions options = {});
// [start, end) by step, like torch.arange; dtype from options (int64 for indices).
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor arange(int64_t end, TensorOptions options = {});
// Copies host values in; values.size() must equal the shape's element count.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options = {});
// Convenience: from_vector with options.dtype = the C++ type's dtype... or any float dtype given.
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});
// A view of existing storage (used by ops; no checks beyond bounds).
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, int64_t offset);

}  // namespace kiln
