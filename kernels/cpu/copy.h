// CPU kernels that move and convert elements: strided copy with dtype conversion, fill.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cpu {

// dst[i] = convert(src[i]) over `shape`, both operands strided (element strides).
void copy_strided(const std::vector<int64_t>& shape, void* dst, DType dst_dtype, const int64_t* dst_strides,
                  const void* src, DType src_dtype, const int64_t* src_strides);
// dst[i] = value over `shape`.
void fill_strided(const std::vector<int64_t>& shape, void* dst, DType dtype, const int64_t* strides, double value);
// Reads element `offset` (in elements) of a buffer of `dtype` as double.
double read_as_double(const void* data, DType dtype, int64_t offset);

}  // namespace kiln::cpu
