#include "kernels/cpu/softmax.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape.h"
#include "kernels/cpu/line_loop.h"
#include "kernels/cpu/rowwise_fast.h"

namespace kiln::cpu {

void softmax_forward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                     const int64_t* x_strides, void* y) {
  const int64_t n = shape[size_t(dim)], numel = shape_numel(shape);
  if (n > 0 && lines_are_rows(shape, dim, x_strides))
    return softmax_forward_rows(log, dtype, numel / n, n, x, y);
  softmax_forward_reference(log, dtype, shape, dim, x, x_strides, y);
}

void softmax_backward(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                      const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx) {
  const int64_t n = shape[size_t(dim)], numel = shape_numel(shape);
  if (n > 0 && lines_are_rows(shape, dim, y_strides) && lines_are_rows(shape, dim, dy_strides))
    return softmax_backward_rows(log, dtype, numel / n, n, y, dy, dx);
  softmax_backward_reference(log, dtype, shape, dim, y, y_strides, dy, dy_strides, dx);
}

void softmax_forward_reference(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* x,
                               const int64_t* x_strides, void* y) {
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax" : "softmax", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    Strides y_strides = contiguous_strides(shape);
    const int64_t n = shape[dim], xs = x_strides[dim], ys = y_strides[dim];
    for_each_line<2>(shape, dim, {x_strides, y_strides.data()}, [&](const std::array<int64_t, 2>& o) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        double v = double(xp[o[0] + j * xs]);
        m = (v > m || v != v) ? v : m;
      }
      if (m == -std::numeric_limits<double>::infinity()) m = 0;  // a line of −∞ gives NaN, as in PyTorch
      double total = 0;
      for (int64_t j = 0; j < n; ++j) total += std::exp(double(xp[o[0] + j * xs]) - m);
      double log_total = std::log(total);
      for (int64_t j = 0; j < n; ++j) {
        double shifted = double(xp[o[0] + j * xs]) - m;
        yp[o[1] + j * ys] = T(log ? shifted - log_total : std::exp(shifted) / total);
      }
    });
  });
}

void softmax_backward_reference(bool log, DType dtype, const std::vector<int64_t>& shape, int64_t dim, const void* y,
                                const int64_t* y_strides, const void* dy, const int64_t* dy_strides, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, log ? "log_softmax backward" : "softmax backward", [&]<class T>() {
    const T* yp = static_cast<const T*>(y);
    const T* gp = static_cast<const T*>(dy);
    T* dxp = static_cast<T*>(dx);
    Strides dx_strides = contiguous_strides(shape);
    const int64_t n = shape[dim], ys = y_strides[dim], gs = dy_strides[dim], xs = dx_strides[dim];
    for_each_line<3>(shape, dim, {y_strides, dy_strides, dx_strides.data()}, [&](const std::array<int64_t, 3>& o) {
      double dot = 0;  // softmax: Σ dy·y ;  log-softmax: Σ dy
      for (int64_t j = 0; j < n; ++j) {
        double g = double(gp[o[1] + j * gs]);
        dot += log ? g : g * double(yp[o[0] + j * ys]);
      }
      for (int64_t j = 0; j < n; ++j) {
        double g = double(gp[o[1] + j * gs]), v = double(yp[o[0] + j * ys]);
        dxp[o[2] + j * xs] = T(log ? g - std::exp(v) * dot : v * (g - dot));
      }
    });
  });
}

}  // namespace kiln::cpu
