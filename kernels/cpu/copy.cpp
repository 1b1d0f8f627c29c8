#include "kernels/cpu/copy.h"

#include "core/error.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln::cpu {

void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides) {
  if (dst_dtype == src_dtype && (dst_dtype == DType::BFloat16 || dst_dtype == DType::Float16)) {
    // Same-dtype copies of the 16-bit floats move their bits (as on CUDA): clone() works for them too.
    uint16_t* d = static_cast<uint16_t*>(dst);
    const uint16_t* s = static_cast<const uint16_t*>(src);
    for_each_strided<2>(shape, {dst_strides, src_strides}, [&](const std::array<int64_t, 2>& o) { d[o[0]] = s[o[1]]; });
    return;
  }
  KILN_DISPATCH_ALL(dst_dtype, "copy", [&]<class D>() {
    KILN_DISPATCH_ALL(src_dtype, "copy", [&]<class S>() {
      D* d = static_cast<D*>(dst);
      const S* s = static_cast<const S*>(src);
      for_each_strided<2>(shape, {dst_strides, src_strides}, [&](const std::array<int64_t, 2>& o) {
        d[o[0]] = static_cast<D>(s[o[1]]);
      });
    });
  });
}

void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value) {
  KILN_DISPATCH_ALL(dtype, "fill", [&]<class T>() {
    T* d = static_cast<T*>(dst);
    T v = static_cast<T>(value);
    for_each_strided<1>(shape, {strides}, [&](const std::array<int64_t, 1>& o) { d[o[0]] = v; });
  });
}

double read_as_double(const void* data, DType dtype, int64_t offset) {
  return KILN_DISPATCH_ALL(dtype, "item", [&]<class T>() { return double(static_cast<const T*>(data)[offset]); });
}

}  // namespace kiln::cpu
