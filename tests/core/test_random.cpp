// The Philox generator: reproducible from the seed, the right statistics, independent draws.
#include <cmath>

#include "core/random.h"
#include "kernels/common/philox.h"
#include "kiln_test.h"

using namespace kiln;

TEST_CASE("Philox4x32-10 matches the published known-answer vectors", "[random]") {
  // Random123's kat_vectors: philox4x32_10 with counter 0 and key 0.
  philox::Block b = philox::philox4x32_10(0, 0);
  CHECK(b.v[0] == 0x6627e8d5u);
  CHECK(b.v[1] == 0xe169c58du);
  CHECK(b.v[2] == 0xbc57ac4cu);
  CHECK(b.v[3] == 0x9b00dbd8u);
}

TEST_CASE("the same seed gives the same numbers, and draws advance the stream", "[random]") {
  Generator a(42), b(42);
  Tensor x1 = randn({1000}, {}, a), x2 = randn({1000}, {}, b);
  CHECK(x1.to_vector<float>() == x2.to_vector<float>());
  Tensor x3 = randn({1000}, {}, a);
  CHECK(x1.to_vector<float>() != x3.to_vector<float>());
  CHECK(a.offset() == 500);
  manual_seed(7);
  Tensor d1 = rand({5});
  manual_seed(7);
  CHECK(rand({5}).to_vector<float>() == d1.to_vector<float>());
  // element i depends only on (seed, offset, i): a longer draw extends a shorter one
  Generator c(3), d(3);
  std::vector<double> short_draw = rand({6}, {.dtype = DType::Float64}, c).to_vector<double>();
  std::vector<double> long_draw = rand({10}, {.dtype = DType::Float64}, d).to_vector<double>();
  CHECK(std::equal(short_draw.begin(), short_draw.end(), long_draw.begin()));
}

TEST_CASE("uniform, normal and integer draws have the right statistics", "[random]") {
  Generator g(1);
  const int64_t n = 200000;
  std::vector<double> u = rand({n}, {.dtype = DType::Float64}, g).to_vector<double>();
  double mean = 0, var = 0, lo = 1, hi = 0;
  for (double v : u) {
    mean += v / n;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  for (double v : u) var += (v - mean) * (v - mean) / n;
  CHECK(std::fabs(mean - 0.5) < 0.005);
  CHECK(std::fabs(var - 1.0 / 12) < 0.002);
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  std::vector<double> z = randn({n}, {.dtype = DType::Float64}, g).to_vector<double>();
  double zm = 0, zv = 0;
  for (double v : z) zm += v / n;
  for (double v : z) zv += (v - zm) * (v - zm) / n;
  CHECK(std::fabs(zm) < 0.01);
  CHECK(std::fabs(zv - 1) < 0.02);
  std::vector<int64_t> k = randint(-3, 4, {n}, {.dtype = DType::Int64}, g).to_vector<int64_t>();
  std::vector<int64_t> counts(7, 0);
  for (int64_t v : k) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    ++counts[v + 3];
  }
  for (int64_t c : counts) CHECK(std::fabs(double(c) / n - 1.0 / 7) < 0.01);
  // ranges wider than 2³² reach their top half too
  std::vector<int64_t> wide = randint(0, int64_t(1) << 40, {4000}, {.dtype = DType::Int64}, g).to_vector<int64_t>();
  CHECK(*std::max_element(wide.begin(), wide.end()) > (int64_t(1) << 39));
  std::vector<int64_t> extreme = randint(INT64_MIN + 1, INT64_MAX, {100}, {.dtype = DType::Int64}, g).to_vector<int64_t>();
  CHECK(std::count_if(extreme.begin(), extreme.end(), [](int64_t v) { return v < 0; }) > 10);
  std::vector<float> uf = uniform({1000}, -2, 5, {}, g).to_vector<float>();
  for (float v : uf) CHECK((v >= -2.0f && v < 5.0f));
  std::vector<int64_t> perm = randperm(50, g).to_vector<int64_t>();
  std::sort(perm.begin(), perm.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(perm[i] == i);
  CHECK_THROWS_WITH_TEXT(randint(3, 3, {2}), "low 3 must be less than high 3");
  CHECK_THROWS_WITH_TEXT(rand({2}, {.dtype = DType::Int64}), "float32 or float64");
}
