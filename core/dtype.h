// Element types of kiln tensors and their sizes and names.
// float32 and float64 are computed everywhere; int64 carries indices, bool carries masks;
// bfloat16 and float16 are named so storage and files can carry them (compute comes later).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

enum class DType : uint8_t { Float32, Float64, Float16, BFloat16, Int64, Int32, UInt8, Bool };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "float64", ...
bool is_floating(DType dtype);        // float32/64/16, bfloat16
bool is_computable_float(DType dtype);  // the floating types kiln's kernels compute in today

// The C++ type that stores each dtype.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

}  // namespace kiln

// KILN_DISPATCH_FLOAT(dtype, "op", [&]<class scalar_t>() { ... }) runs the lambda for float or double.
#define KILN_DISPATCH_FLOAT(DTYPE, NAME, ...)                                                   \
  [&] {                                                                                        \
    switch (DTYPE) {                                                                           \
      case ::kiln::DType::Float32: return (__VA_ARGS__).template operator()<float>();          \
      case ::kiln::DType::Float64: return (__VA_ARGS__).template operator()<double>();         \
      default: KILN_FAIL(NAME, ": dtype ", ::kiln::dtype_name(DTYPE), " is not supported (float32 or float64 expected)"); \
    }                                                                                          \
  }()

// KILN_DISPATCH_ALL(dtype, "op", lambda) also covers the integer and bool types.
#define KILN_DISPATCH_ALL(DTYPE, NAME, ...)                                                     \
  [&] {                                                                                        \
    switch (DTYPE) {                                                                           \
      case ::kiln::DType::Float32: return (__VA_ARGS__).template operator()<float>();          \
      case ::kiln::DType::Float64: return (__VA_ARGS__).template operator()<double>();         \
      case ::kiln::DType::Int64: return (__VA_ARGS__).template operator()<int64_t>();          \
      case ::kiln::DType::Int32: return (__VA_ARGS__).template operator()<int32_t>();          \
      case ::kiln::DType::UInt8: return (__VA_ARGS__).template operator()<uint8_t>();          \
      case ::kiln::DType::Bool: return (__VA_ARGS__).template operator()<bool>();              \
      default: KILN_FAIL(NAME, ": dtype ", ::kiln::dtype_name(DTYPE), " is not supported yet"); \
    }                                                                                          \
  }()
