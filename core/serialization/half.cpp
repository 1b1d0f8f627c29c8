#include "core/serialization/half.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/cpu/strided_loop.h"

namespace kiln {

// bfloat16: the top 16 bits of a float32.
float bfloat16_to_float(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }

uint16_t float_to_bfloat16(float value) {
  uint32_t u = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) return uint16_t((u >> 16) | 0x0040);  // keep sign, force a quiet NaN
  uint32_t rounding = 0x7FFF + ((u >> 16) & 1);                  // round to nearest, ties to even
  return uint16_t((u + rounding) >> 16);
}

// float16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float float16_to_float(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exp = (bits >> 10) & 0x1F;
  uint32_t mant = bits & 0x3FF;
  uint32_t u;
  if (exp == 0x1F) {
    u = sign | 0x7F800000 | (mant << 13);  // inf / NaN
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 → 127
  } else if (mant == 0) {
    u = sign;  // ±0
  } else {
    // subnormal: mant · 2⁻²⁴, exact in float32
    float f = std::ldexp(float(mant), -24);
    return sign ? -f : f;
  }
  return std::bit_cast<float>(u);
}

uint16_t float_to_float16(float value) {
  uint32_t u = std::bit_cast<uint32_t>(value);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t abs = u & 0x7FFFFFFF;
  if (abs > 0x7F800000) return uint16_t(sign | 0x7E00 | ((abs >> 13) & 0x3FF));  // NaN (quiet)
  if (abs >= 0x47800000) {
    // ≥ 65536 (or inf) is inf; values in [65520, 65536) round up to inf too (handled by the rounding below)
    return uint16_t(sign | 0x7C00);
  }
  if (abs < 0x38800000) {
    // below the smallest normal float16 (2⁻¹⁴): a subnormal, mant = round(|x| · 2²⁴), ties to even
    float f = std::bit_cast<float>(abs);
    float scaled = f * 16777216.0f;  // exact (power of two)
    float r = std::nearbyint(scaled);  // default rounding mode: ties to even
    return uint16_t(sign | uint16_t(r));  // r ≤ 1024: 1024 is the smallest normal, bit pattern 0x0400
  }
  // normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even
  uint32_t h = abs - (112u << 23);
  uint32_t rounding = 0x0FFF + ((h >> 13) & 1);
  h = (h + rounding) >> 13;  // a carry into the exponent is correct, up to inf (0x7C00)
  return uint16_t(sign | h);
}

namespace {

// Calls f(element offset in t) for every element of t in row-major order.
template <class F>
void for_each_offset(const Tensor& t, F f) {
  cpu::for_each_strided<1>(t.shape(), {t.strides().data()}, [&](const std::array<int64_t, 1>& o) { f(o[0]); });
}

}  // namespace

Tensor to_float32_from_half(const Tensor& t) {
  KILN_CHECK(t.defined(), "to_float32_from_half: the tensor is undefined");
  KILN_CHECK(t.dtype() == DType::BFloat16 || t.dtype() == DType::Float16,
             "to_float32_from_half: dtype ", dtype_name(t.dtype()), " is not bfloat16 or float16");
  KILN_CHECK(t.device().is_cpu(), "to_float32_from_half: the tensor is on ", t.device().str(), "; CPU expected");
  Tensor out = empty(t.shape(), {.dtype = DType::Float32});
  if (t.numel() == 0) return out;
  const uint16_t* src = static_cast<const uint16_t*>(t.data());
  float* dst = out.data_ptr<float>();
  bool bf = t.dtype() == DType::BFloat16;
  int64_t i = 0;
  for_each_offset(t, [&](int64_t o) { dst[i++] = bf ? bfloat16_to_float(src[o]) : float16_to_float(src[o]); });
  return out;
}

Tensor to_half_from_float32(const Tensor& t, DType half_dtype) {
  KILN_CHECK(t.defined(), "to_half_from_float32: the tensor is undefined");
  KILN_CHECK(half_dtype == DType::BFloat16 || half_dtype == DType::Float16,
             "to_half_from_float32: target dtype ", dtype_name(half_dtype), " is not bfloat16 or float16");
  KILN_CHECK(t.dtype() == DType::Float32, "to_half_from_float32: dtype ", dtype_name(t.dtype()), " is not float32");
  KILN_CHECK(t.device().is_cpu(), "to_half_from_float32: the tensor is on ", t.device().str(), "; CPU expected");
  Tensor out = empty(t.shape(), {.dtype = half_dtype});
  if (t.numel() == 0) return out;
  const float* src = static_cast<const float*>(t.data());
  uint16_t* dst = static_cast<uint16_t*>(out.data());
  bool bf = half_dtype == DType::BFloat16;
  int64_t i = 0;
  for_each_offset(t, [&](int64_t o) { dst[i++] = bf ? float_to_bfloat16(src[o]) : float_to_float16(src[o]); });
  return out;
}

}  // namespace kiln
