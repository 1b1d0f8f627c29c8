#include "kernels/cpu/index.h"

#include "core/error.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {
namespace {

Dims row_major_strides(const Dims& shape) {
  Dims s(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return s;
}

Dims without(const Dims& v, int64_t dim) {
  Dims out(v);
  out.erase(out.begin() + dim);
  return out;
}

int64_t numel(const Dims& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

template <class T>
void store(const std::vector<double>& acc, void* out) {
  T* o = static_cast<T*>(out);
  for (size_t i = 0; i < acc.size(); ++i) o[i] = T(acc[i]);
}

}  // namespace

void index_select_forward(DType dtype, const Dims& x_shape, const int64_t* x_strides, const void* x, int64_t dim,
                          const int64_t* index, int64_t n, void* y) {
  KILN_DISPATCH_ALL(dtype, "index_select", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    Dims y_shape = x_shape;
    y_shape[dim] = n;
    Dims y_strides = row_major_strides(y_shape);
    Dims rest = without(x_shape, dim);
    Dims x_rest = without(Dims(x_strides, x_strides + x_shape.size()), dim), y_rest = without(y_strides, dim);
    for (int64_t i = 0; i < n; ++i) {
      const T* src = xp + index[i] * x_strides[dim];
      T* dst = yp + i * y_strides[dim];
      for_each_strided<2>(rest, {x_rest.data(), y_rest.data()},
                          [&](const std::array<int64_t, 2>& o) { dst[o[1]] = src[o[0]]; });
    }
  });
}

void index_select_backward(DType dtype, const Dims& x_shape, int64_t dim, const int64_t* index, int64_t n, int64_t skip,
                           const void* dy, const int64_t* dy_strides, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "index_select_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    Dims dx_strides = row_major_strides(x_shape);
    std::vector<double> acc(size_t(numel(x_shape)), 0.0);
    Dims rest = without(x_shape, dim);
    Dims dx_rest = without(dx_strides, dim), dy_rest = without(Dims(dy_strides, dy_strides + x_shape.size()), dim);
    for (int64_t i = 0; i < n; ++i) {
      if (index[i] == skip) continue;
      double* dst = acc.data() + index[i] * dx_strides[dim];
      const T* src = gp + i * dy_strides[dim];
      for_each_strided<2>(rest, {dx_rest.data(), dy_rest.data()},
                          [&](const std::array<int64_t, 2>& o) { dst[o[0]] += double(src[o[1]]); });
    }
    store<T>(acc, dx);
  });
}

void gather_forward(DType dtype, const Dims& index_shape, const int64_t* index_strides, const int64_t* index,
                    const int64_t* x_strides, const void* x, int64_t dim, void* y) {
  KILN_DISPATCH_ALL(dtype, "gather", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    Dims x_other(x_strides, x_strides + index_shape.size());  // the dim's own stride comes from the index
    int64_t x_dim_stride = x_other[dim];
    x_other[dim] = 0;
    Dims y_strides = row_major_strides(index_shape);
    for_each_strided<3>(index_shape, {index_strides, x_other.data(), y_strides.data()},
                        [&](const std::array<int64_t, 3>& o) { yp[o[2]] = xp[o[1] + index[o[0]] * x_dim_stride]; });
  });
}

void gather_backward(DType dtype, const Dims& x_shape, const Dims& index_shape, const int64_t* index_strides,
                     const int64_t* index, int64_t dim, const void* dy, const int64_t* dy_strides, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "gather_backward", [&]<class T>() {
    const T* gp = static_cast<const T*>(dy);
    std::vector<double> acc(size_t(numel(x_shape)), 0.0);
    Dims dx_other = row_major_strides(x_shape);
    int64_t dx_dim_stride = dx_other[dim];
    dx_other[dim] = 0;
    for_each_strided<3>(index_shape, {index_strides, dx_other.data(), dy_strides},
                        [&](const std::array<int64_t, 3>& o) {
                          acc[size_t(o[1] + index[o[0]] * dx_dim_stride)] += double(gp[o[2]]);
                        });
    store<T>(acc, dx);
  });
}

void one_hot(const int64_t* indices, int64_t n, int64_t num_classes, int64_t* y) {
  for (int64_t i = 0; i < n * num_classes; ++i) y[i] = 0;
  for (int64_t i = 0; i < n; ++i) y[i * num_classes + indices[i]] = 1;
}

}  // namespace kiln::cpu
