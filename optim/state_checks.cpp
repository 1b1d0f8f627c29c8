#include "optim/state_checks.h"

#include <charconv>
#include <cmath>

#include "core/error.h"
#include "core/printable.h"

namespace kiln {

double saved_real(const Tensor& t, const std::string& key) {
  KILN_CHECK(t.defined() && t.numel() == 1, "load_state_tensors: '", printable(key), "' must be a one-element tensor",
             t.defined() ? ", it has shape " + shape_str(t.shape()) : std::string());
  const double v = t.item();
  KILN_CHECK(std::isfinite(v), "load_state_tensors: '", printable(key), "' is ", v, ", not a finite number");
  return v;
}

int64_t saved_count(const Tensor& t, const std::string& key) {
  constexpr double kMax = 9007199254740992.0;  // 2^53
  KILN_CHECK(t.defined() && t.numel() == 1, "load_state_tensors: '", printable(key), "' must be a one-element tensor",
             t.defined() ? ", it has shape " + shape_str(t.shape()) : std::string());
  const double v = t.item();
  // Checked before the cast: converting NaN, Inf or a value out of int64's range is undefined behaviour.
  KILN_CHECK(std::isfinite(v) && v >= 0 && v <= kMax && v == std::floor(v), "load_state_tensors: '", printable(key),
             "' is ", v, ", not a whole number from 0 to 2^53");
  return static_cast<int64_t>(v);
}

size_t saved_index(const std::string& digits, const std::string& key, size_t size, const char* what) {
  size_t index = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  const bool whole = ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
  KILN_CHECK(whole || ec == std::errc::result_out_of_range, "load_state_tensors: unknown state '", printable(key), "'");
  KILN_CHECK(whole && index < size, "load_state_tensors: '", printable(key), "' names ", what, " ", printable(digits),
             " but there are ", size, " ", what, "s");
  return index;
}

}  // namespace kiln
