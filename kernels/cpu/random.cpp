#include "kernels/cpu/random.h"

#include "core/error.h"
#include "kernels/common/philox.h"

namespace kiln::cpu {

void random_fill(void* dst, DType dtype, int64_t n, RandomKind kind, double a, double b, uint64_t seed,
                 uint64_t offset) {
  KILN_DISPATCH_FLOAT(dtype, "random", [&]<class T>() {
    T* d = static_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) {
      if (kind == RandomKind::Uniform)
        d[i] = T(a + (b - a) * double(philox::to_uniform<T>(philox::word(seed, offset, i))));
      else
        d[i] = T(a + b * philox::normal(seed, offset, i));
    }
  });
}

void random_integers(int64_t* dst, int64_t n, int64_t low, int64_t high, uint64_t seed, uint64_t offset) {
  for (int64_t i = 0; i < n; ++i) dst[i] = philox::integer(seed, offset, i, low, high);
}

}  // namespace kiln::cpu
