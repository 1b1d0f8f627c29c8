// bfloat16 and float16 (IEEE binary16) conversions. kiln stores these dtypes (e.g. tensors loaded from
// safetensors files) but computes in float32/float64: convert with these helpers to compute.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace kiln {

// Scalar conversions on the raw 16-bit patterns. float → half rounds to nearest even; NaN stays NaN,
// overflow gives ±inf, float16 underflow gives subnormals / ±0.
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);
float float16_to_float(uint16_t bits);
uint16_t float_to_float16(float value);

// A bfloat16 or float16 tensor (any layout; CPU) → a new contiguous float32 CPU tensor.
Tensor to_float32_from_half(const Tensor& t);
// A float32 tensor (any layout; CPU) → a new contiguous tensor of half_dtype (BFloat16 or Float16).
Tensor to_half_from_float32(const Tensor& t, DType half_dtype);

}  // namespace kiln
