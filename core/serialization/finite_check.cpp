#include "core/serialization/finite_check.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "core/printable.h"

namespace kiln {
namespace {

// "nan" or "inf" for element i of a contiguous CPU tensor of a floating dtype, or nullptr when it is finite.
template <class Float>
const char* classify(const char* base, int64_t i) {
  Float v;
  std::memcpy(&v, base + i * int64_t(sizeof(Float)), sizeof(Float));
  return std::isfinite(v) ? nullptr : std::isnan(v) ? "nan" : "inf";
}
const char* classify_half(const char* base, int64_t i, uint16_t exponent_mask, uint16_t mantissa_mask) {
  uint16_t bits;
  std::memcpy(&bits, base + i * 2, 2);
  if ((bits & exponent_mask) != exponent_mask) return nullptr;  // all-ones exponent: Inf or NaN
  return (bits & mantissa_mask) != 0 ? "nan" : "inf";
}
const char* non_finite_at(const Tensor& t, int64_t i) {
  const char* base = static_cast<const char*>(t.data());
  switch (t.dtype()) {
    case DType::Float32: return classify<float>(base, i);
    case DType::Float64: return classify<double>(base, i);
    case DType::BFloat16: return classify_half(base, i, 0x7F80, 0x007F);
    case DType::Float16: return classify_half(base, i, 0x7C00, 0x03FF);
    default: return nullptr;
  }
}

}  // namespace

void check_finite_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& where) {
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || !is_floating(t.dtype())) continue;
    KILN_CHECK(t.device().is_cpu() && t.is_contiguous(), "check_finite_tensors: tensor '", printable(name),
               "' must be a contiguous CPU tensor");
    const int64_t n = t.numel();
    int64_t first = -1, count = 0;
    const char* what = nullptr;
    for (int64_t i = 0; i < n; ++i) {
      const char* kind = non_finite_at(t, i);
      if (!kind) continue;
      if (first < 0) {
        first = i;
        what = kind;
      }
      ++count;
    }
    if (first >= 0)
      KILN_FAIL(where, ": tensor '", printable(name), "' holds ", what, " at element ", first, " of ", n,
                count > 1 ? " (and " + std::to_string(count - 1) + " more values that are not finite)" : std::string(),
                ": these weights are not usable (did the training diverge, or is the file damaged?)");
  }
}

}  // namespace kiln
