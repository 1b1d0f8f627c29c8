#include "kernels/cpu/reduce.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace kiln::cpu {
namespace {

// The number of outputs: the product of the kept dims' sizes.
int64_t kept_count(const std::vector<int64_t>& shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) n *= shape[d];
  return n;
}

// The number of elements reduced into each output.
double group_count(const std::vector<int64_t>& shape, const std::vector<int64_t>& dims) {
  double n = 1;
  for (int64_t d : dims) n *= double(shape[d]);
  return n;
}

}  // namespace

void reduce(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "reduce", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* op = static_cast<T*>(out);
    int64_t out_n = kept_count(shape, dims);
    double init = kind == ReduceKind::Sum ? 0.0
                  : kind == ReduceKind::Max ? -std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::infinity();
    std::vector<double> acc(size_t(out_n), init);
    for_each_reduced(shape, strides, dims, [&](int64_t k, int64_t off, int64_t) {
      double v = double(xp[off]);
      if (kind == ReduceKind::Sum) acc[k] += v;
      else if (kind == ReduceKind::Max) acc[k] = (v > acc[k] || v != v) ? v : acc[k];  // NaN propagates
      else acc[k] = (v < acc[k] || v != v) ? v : acc[k];
    });
    for (int64_t k = 0; k < out_n; ++k) op[k] = T(acc[k]);
  });
}

void arg_reduce(bool is_max, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
                int64_t dim, void* values, int64_t* indices) {
  KILN_DISPATCH_FLOAT(dtype, is_max ? "max" : "min", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    int64_t out_n = kept_count(shape, {dim});
    std::vector<T> best(static_cast<size_t>(out_n));
    for_each_reduced(shape, strides, {dim}, [&](int64_t k, int64_t off, int64_t j) {
      T v = xp[off], b = best[size_t(k)];
      // strict comparison: a later equal value does not replace the first one
      bool better = j == 0 || (b == b && (v != v || (is_max ? v > b : v < b)));
      if (better) {
        best[size_t(k)] = v;
        indices[k] = j;
      }
    });
    if (values) std::copy(best.begin(), best.end(), static_cast<T*>(values));
  });
}

void arg_reduce_backward(DType dtype, const std::vector<int64_t>& shape, int64_t dim, const int64_t* indices,
                         const void* dy, void* dx) {
  KILN_DISPATCH_FLOAT(dtype, "max/min backward", [&]<class T>() {
    const T* g = static_cast<const T*>(dy);
    T* out = static_cast<T*>(dx);
    std::vector<int64_t> strides;
    int64_t stride = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      strides.insert(strides.begin(), stride);
      stride *= shape[d];
    }
    for_each_reduced(shape, strides.data(), {dim}, [&](int64_t k, int64_t off, int64_t j) {
      out[off] = j == indices[k] ? g[k] : T(0);
    });
  });
}

void variance(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
              const std::vector<int64_t>& dims, double correction, bool take_sqrt, void* out) {
  KILN_DISPATCH_FLOAT(dtype, take_sqrt ? "stddev" : "var", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* op = static_cast<T*>(out);
    int64_t out_n = kept_count(shape, dims);
    double n = group_count(shape, dims);
    std::vector<double> mean(size_t(out_n), 0.0), squares(size_t(out_n), 0.0);
    for_each_reduced(shape, strides, dims, [&](int64_t k, int64_t off, int64_t) { mean[size_t(k)] += double(xp[off]); });
    for (double& m : mean) m /= n;
    for_each_reduced(shape, strides, dims, [&](int64_t k, int64_t off, int64_t) {
      double d = double(xp[off]) - mean[size_t(k)];
      squares[size_t(k)] += d * d;
    });
    double divisor = std::max(0.0, n - correction);  // 0 gives inf or NaN, as in PyTorch
    for (int64_t k = 0; k < out_n; ++k) {
      double v = squares[size_t(k)] / divisor;
      op[k] = T(take_sqrt ? std::sqrt(v) : v);
    }
  });
}

void logsumexp(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
               const std::vector<int64_t>& dims, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "logsumexp", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* op = static_cast<T*>(out);
    int64_t out_n = kept_count(shape, dims);
    std::vector<double> shift(size_t(out_n), -std::numeric_limits<double>::infinity()), total(size_t(out_n), 0.0);
    for_each_reduced(shape, strides, dims, [&](int64_t k, int64_t off, int64_t) {
      double v = double(xp[off]);
      double& m = shift[size_t(k)];
      m = (v > m || v != v) ? v : m;
    });
    for (double& m : shift)
      if (std::isinf(m)) m = 0;  // all −∞ (or some +∞): no shift, the sum gives −∞ (or +∞) itself
    for_each_reduced(shape, strides, dims, [&](int64_t k, int64_t off, int64_t) {
      total[size_t(k)] += std::exp(double(xp[off]) - shift[size_t(k)]);
    });
    for (int64_t k = 0; k < out_n; ++k) op[k] = T(shift[size_t(k)] + std::log(total[size_t(k)]));
  });
}

}  // namespace kiln::cpu
