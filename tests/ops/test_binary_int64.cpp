// int64 elementwise arithmetic (add, sub, mul, maximum, minimum): exact integer results, used for
// counters kept on the device such as BatchNorm's num_batches_tracked.
#include <cstdint>
#include <vector>

#include "kiln_test.h"

using namespace kiln;

namespace {
Tensor i64(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Int64});
}
std::vector<int64_t> values(const Tensor& t) { return t.to_vector<int64_t>(); }
}  // namespace

TEST_CASE("int64 add, sub, mul, maximum and minimum are exact and broadcast", "[binary][checkpoint]") {
  const int64_t big = (int64_t(1) << 60) + 1;  // not representable in a double
  Tensor a = i64({1, -2, 3, big, 5, -6}, {2, 3});
  Tensor b = i64({10, 20, 30}, {3});
  Tensor col = i64({2, -1}, {2, 1});
  CHECK((a + b).dtype() == DType::Int64);
  CHECK(values(a + b) == std::vector<int64_t>({11, 18, 33, big + 10, 25, 24}));
  CHECK(values(a - col) == std::vector<int64_t>({-1, -4, 1, big + 1, 6, -5}));
  CHECK(values(a * col) == std::vector<int64_t>({2, -4, 6, -big, -5, 6}));
  CHECK(values(maximum(a, b)) == std::vector<int64_t>({10, 20, 30, big, 20, 30}));
  CHECK(values(minimum(a, col)) == std::vector<int64_t>({1, -2, 2, -1, -1, -6}));
  CHECK(values(a.t() + b.unsqueeze(1)) == std::vector<int64_t>({11, big + 10, 18, 25, 33, 24}));  // strided

  // In place, as BatchNorm counts its batches.
  Tensor count = i64({big}, {});
  count.add_(ones({}, {.dtype = DType::Int64}));
  CHECK(count.data_ptr<int64_t>()[0] == big + 1);
}

TEST_CASE("int64 division, power and mixed dtypes are refused", "[binary][checkpoint]") {
  Tensor a = i64({4, 6}, {2});
  CHECK_THROWS_WITH_TEXT(div(a, a), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(pow(a, a), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(add(a, ones({2})), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(add(ones({2}), a), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(add(a, ones({2}, {.dtype = DType::Int32})), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(a.add_(a, 2.0), "float32 or float64");  // alpha scales through a float-only op
}
