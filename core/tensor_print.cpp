// Readable printing, in the spirit of PyTorch's repr: nested brackets, elided middles for big dims.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/autograd/node.h"
#include "core/ops/ops.h"
#include "core/tensor_data.h"

namespace kiln {
namespace {

constexpr int64_t kEdgeItems = 3;   // shown at each end of a long dim
constexpr int64_t kSummarize = 1000; // elide when the tensor has more elements than this

std::string format_value(double v, DType dtype) {
  char buf[64];
  if (dtype == DType::Bool) return v != 0 ? "True" : "False";
  if (!is_floating(dtype)) std::snprintf(buf, sizeof buf, "%lld", (long long)v);
  else if (std::isnan(v)) return "nan";
  else if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, const Strides& strides, int64_t dim,
               int64_t offset, DType dtype, bool summarize, int indent) {
  if (dim == int64_t(shape.size())) {
    os << format_value(v[offset], dtype);
    return;
  }
  os << "[";
  int64_t n = shape[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << "...";
      i = n - kEdgeItems - 1;
      os << (dim + 1 == int64_t(shape.size()) ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_rec(os, v, shape, strides, dim + 1, offset + i * strides[dim], dtype, summarize, indent + 1);
    if (i + 1 < n) os << (dim + 1 == int64_t(shape.size()) ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

const char* grad_fn_name(const Tensor& t) { return t.grad_fn()->name(); }

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  Tensor host = empty(shape(), {.dtype = DType::Float64});
  copy_data(host, detach());
  std::vector<double> values = host.to_vector<double>();
  os << "tensor(";
  print_rec(os, values, shape(), host.strides(), 0, 0, dtype(), numel() > kSummarize, 7);
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (device().is_cuda()) os << ", device=" << device().str();
  if (grad_fn()) os << ", grad_fn=<" << grad_fn_name(*this) << ">";
  else if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace kiln
