#include "kernels/cpu/reduce.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/cpu/flat_loop.h"

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

void reduce_strided(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides,
                    const void* x, const std::vector<int64_t>& dims, void* out) {
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

namespace {

// Σ x[0..n) in double with eight partial sums, so that the loop vectorizes (one running sum cannot be
// reordered). Differs from the reference's one-by-one double sum by rounding only.
template <class T>
double sum_run(const T* __restrict x, int64_t n) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) part[j] += double(x[i + j]);
  double total = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < n; ++i) total += double(x[i]);
  return total;
}

// One long run: partial sums per chunk across threads, added in chunk order (the same result for any
// thread count).
template <class T>
double sum_long_run(const T* x, int64_t n) {
  const int64_t chunks = (n + kParallelElements - 1) / kParallelElements;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c)
    partial[size_t(c)] = sum_run(x + c * kParallelElements, std::min(kParallelElements, n - c * kParallelElements));
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// y[k] = Σ of row k (rows of `length`), rows across threads when there is enough work.
template <class T>
void sum_rows(const T* x, int64_t rows, int64_t length, T* y) {
#pragma omp parallel for schedule(static) if (rows * length >= kParallelElements && rows > 1)
  for (int64_t k = 0; k < rows; ++k) y[k] = T(sum_run(x + k * length, length));
}

// True when `strides` are the contiguous strides of `shape`.
bool is_contiguous(const std::vector<int64_t>& shape, const int64_t* strides) {
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

}  // namespace

bool reduce_contiguous(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides,
                       const void* x, const std::vector<int64_t>& dims, void* out) {
  if (kind != ReduceKind::Sum || dims.empty() || !is_contiguous(shape, strides)) return false;
  const int64_t ndim = int64_t(shape.size());
  // The reduced dims must be the last ones (rows: each output sums one contiguous run) or the first ones
  // (columns: each output sums one element of every row).
  bool trailing = true, leading = true;
  for (size_t i = 0; i < dims.size(); ++i) {
    trailing = trailing && dims[i] == ndim - int64_t(dims.size()) + int64_t(i);
    leading = leading && dims[i] == int64_t(i);
  }
  if (!trailing && !leading) return false;
  const int64_t reduced = int64_t(group_count(shape, dims)), kept = kept_count(shape, dims);
  KILN_DISPATCH_FLOAT(dtype, "reduce", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(out);
    if (trailing && kept == 1 && reduced >= 2 * kParallelElements) {
      yp[0] = T(sum_long_run(xp, reduced));
    } else if (trailing) {
      sum_rows(xp, kept, reduced, yp);
    } else {  // leading: column sums, one double accumulator per column, rows added in order
      std::vector<double> acc(static_cast<size_t>(kept), 0.0);
      double* __restrict a = acc.data();
      for (int64_t r = 0; r < reduced; ++r) {
        const T* __restrict row = xp + r * kept;
        for (int64_t k = 0; k < kept; ++k) a[k] += double(row[k]);
      }
      for (int64_t k = 0; k < kept; ++k) yp[k] = T(a[k]);
    }
  });
  return true;
}

void reduce(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out) {
  if (!reduce_contiguous(kind, dtype, shape, strides, x, dims, out)) reduce_strided(kind, dtype, shape, strides, x, dims, out);
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
