#include "kernels/cpu/reduce.h"

#include <limits>

#include "core/error.h"

namespace kiln::cpu {

void reduce(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out) {
  KILN_DISPATCH_FLOAT(dtype, "reduce", [&]<class T>() {
    const T* xp = static_cast<const T*>(x);
    T* op = static_cast<T*>(out);
    int64_t out_n = 1;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d)
      if (!std::binary_search(dims.begin(), dims.end(), d)) out_n *= shape[d];
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

}  // namespace kiln::cpu
