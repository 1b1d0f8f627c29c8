// CUDA reductions against the CPU reference, forward and backward, float32 and float64: sum, mean,
// amax/amin (ties share the gradient), max/min with indices, argmax/argmin (first index among ties,
// NaN wins), var/stddev (corrections, keepdim), logsumexp (−∞ rows). Shapes cover rows of length 1, 3,
// 127, 1025, 5000, reductions over all / leading / middle / trailing dims, keepdim, non-contiguous
// inputs, and the two-launch path (few outputs with long groups).
#include <cmath>
#include <limits>

#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

// A random leaf with requires_grad of the given dtype.
Tensor leaf(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor t = random_input(shape, seed);
  if (dtype == DType::Float64) return t;
  Tensor f = t.detach().to(DType::Float32);
  f.requires_grad_(true);
  return f;
}

// A leaf of given values (not requiring grad unless asked).
Tensor values_leaf(const std::vector<double>& v, const Shape& shape, DType dtype, bool requires_grad) {
  Tensor t = from_vector(v, shape, {.dtype = dtype});
  if (requires_grad) t.requires_grad_(true);
  return t;
}

const DType kFloatTypes[] = {DType::Float64, DType::Float32};
const int64_t kRowLengths[] = {1, 3, 127, 1025, 5000};

// The dims lists tried on a 3-d input: all (empty list), each single dim, pairs, all three.
const std::vector<std::vector<int64_t>> kDims3 = {{}, {0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}, {-1}};

}  // namespace

TEST_CASE("CUDA: sum and mean match the CPU over every dims list, keepdim, row lengths", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (const auto& dims : kDims3)
      for (bool keepdim : {false, true}) {
        INFO("dims size " << dims.size() << " keepdim " << keepdim);
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{sum(in[0], dims, keepdim)}; },
                               {leaf({3, 5, 7}, 1, dt)}, tolerance_for(dt));
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{mean(in[0], dims, keepdim)}; },
                               {leaf({3, 5, 7}, 2, dt)}, tolerance_for(dt));
      }
    for (int64_t n : kRowLengths) {
      INFO("row length " << n);
      // rows (reduced dim contiguous), columns (reduced dim strided), everything
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{sum(in[0], {1}), sum(in[0], {0}), sum(in[0]), mean(in[0], {1}, true)};
      }, {leaf({4, n}, 3, dt)}, tolerance_for(dt));
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{sum(in[0], {0}), mean(in[0], {0}, true)};
      }, {leaf({n, 40}, 4, dt)}, tolerance_for(dt));
    }
    // middle dims of a 4-d tensor, and a non-contiguous (permuted, sliced) input
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0], {1, 2}), mean(in[0], {1, 2}, true), sum(in[0], {0, 3})};
    }, {leaf({2, 3, 4, 5}, 5, dt)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      Tensor v = in[0].permute({2, 0, 1}).slice(1, 1, 6, 2);  // [7, 3 of 6 step 2, 5]
      return std::vector<Tensor>{sum(v, {1}), sum(v, {0, 2}, true), mean(v), sum(v, {2})};
    }, {leaf({6, 5, 7}, 6, dt)}, tolerance_for(dt));
    // few outputs with long groups: the reduction is split into chunks and combined in a second launch
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0]), mean(in[0])};
    }, {leaf({200003}, 7, dt)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0], {0}), sum(in[0], {1}), mean(in[0].t(), {1})};
    }, {leaf({3000, 70}, 8, dt)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0], {0, 2}), sum(in[0], {1})};
    }, {leaf({50, 3, 2000}, 9, dt)}, tolerance_for(dt));
    // a 0-d input, and an input with an empty reduced dim (sum 0, mean NaN)
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0]), mean(in[0], {0})};
    }, {leaf({}, 10, dt)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{sum(in[0], {1}), mean(in[0], {1})};
    }, {leaf({3, 0}, 11, dt)}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA: amax and amin match the CPU, ties share the gradient, NaN propagates", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (const auto& dims : kDims3)
      for (bool keepdim : {false, true}) {
        INFO("dims size " << dims.size() << " keepdim " << keepdim);
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{amax(in[0], dims, keepdim), amin(in[0], dims, keepdim)};
        }, {leaf({3, 5, 7}, 20, dt)}, tolerance_for(dt));
      }
    for (int64_t n : kRowLengths) {
      INFO("row length " << n);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{amax(in[0], {1}), amin(in[0], {0}), amax(in[0]), amin(in[0].t(), {0}, true)};
      }, {leaf({4, n}, 21, dt)}, tolerance_for(dt));
    }
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{amax(in[0]), amin(in[0], {0}), amax(in[0].t(), {1})};
    }, {leaf({100001, 2}, 22, dt)}, tolerance_for(dt));
    // ties: the gradient is shared evenly among the maxima (minima)
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{amax(in[0], {1}), amin(in[0], {0}), amax(in[0])};
    }, {values_leaf({1, 3, 3, 0, 2, 2, 2, -1, 0, 0, 3, 3}, {3, 4}, dt, true)}, tolerance_for(dt));
    // NaN wins over numbers (forward only)
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{amax(in[0], {1}), amin(in[0], {1}), amax(in[0], {0}), amin(in[0])};
    }, {values_leaf({1, nan, 3, -inf, inf, 2, nan, nan, 0}, {3, 3}, dt, false)}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA: max/min with indices and argmax/argmin match the CPU (first among ties, NaN wins)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (int64_t dim : {0, 1, 2, -1})
      for (bool keepdim : {false, true}) {
        INFO("dim " << dim << " keepdim " << keepdim);
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          auto [v, i] = max(in[0], dim, keepdim);
          auto [w, j] = min(in[0], dim, keepdim);
          return std::vector<Tensor>{v, i, w, j, argmax(in[0], dim, keepdim), argmin(in[0], dim, keepdim)};
        }, {leaf({3, 5, 7}, 30, dt)}, tolerance_for(dt));
      }
    for (int64_t n : kRowLengths) {
      INFO("row length " << n);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        auto [v, i] = max(in[0], 1);
        auto [w, j] = min(in[0], 0, true);
        auto [u, k] = max(in[0].t(), 0);  // non-contiguous
        return std::vector<Tensor>{v, i, w, j, u, k, argmax(in[0], 1), argmin(in[0], 0)};
      }, {leaf({4, n}, 31, dt)}, tolerance_for(dt));
    }
    // a long single row: chunks and the second launch keep the first index among ties
    {
      std::vector<double> v(300000, 1.0);
      v[123457] = 5;
      v[299999] = 5;
      v[200000] = -5;
      v[7] = -5;
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        auto [m, i] = max(in[0], 0);
        auto [w, j] = min(in[0], 0);
        return std::vector<Tensor>{m, i, w, j};
      }, {values_leaf(v, {300000}, dt, true)}, tolerance_for(dt));
      v[250000] = std::numeric_limits<double>::quiet_NaN();
      v[260000] = std::numeric_limits<double>::quiet_NaN();
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{argmax(in[0], 0), argmin(in[0], 0)};
      }, {values_leaf(v, {300000}, dt, false)}, tolerance_for(dt));
    }
    // ties and NaNs in short rows
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      auto [v, i] = max(in[0], 1);
      auto [w, j] = min(in[0], 1);
      return std::vector<Tensor>{v, i, w, j, argmax(in[0], 0), argmin(in[0], 0)};
    }, {values_leaf({2, 1, 2, 1, 0, 0, 0, 0, 1, nan, 3, nan}, {3, 4}, dt, false)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      auto [v, i] = max(in[0], 1);
      return std::vector<Tensor>{v, i};
    }, {values_leaf({2, 1, 2, 1, 0, 0, 0, 0, 1, 5, 3, 5}, {3, 4}, dt, true)}, tolerance_for(dt));
    // 0-d input
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      auto [v, i] = max(in[0], 0);
      return std::vector<Tensor>{v, i, argmin(in[0], -1)};
    }, {leaf({}, 32, dt)}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA: var and stddev match the CPU (corrections, dims, keepdim, constant rows)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (const auto& dims : kDims3)
      for (int64_t correction : {0, 1, 2}) {
        INFO("dims size " << dims.size() << " correction " << correction);
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{var(in[0], dims, correction), stddev(in[0], dims, correction, true)};
        }, {leaf({3, 5, 7}, 40, dt)}, tolerance_for(dt));
      }
    for (int64_t n : kRowLengths) {
      INFO("row length " << n);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{var(in[0], {1}, 0), stddev(in[0], {1}, 0), var(in[0], {0}), stddev(in[0].t(), {1}, 0, true)};
      }, {leaf({4, n}, 41, dt)}, tolerance_for(dt));
      // correction 1: a row of 1 divides by 0 (NaN on both devices, forward and backward)
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{var(in[0], {1}), stddev(in[0], {1}, 1, true)};
      }, {leaf({3, n}, 44, dt)}, tolerance_for(dt));
    }
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{var(in[0]), stddev(in[0], {0})};
    }, {leaf({150001}, 42, dt)}, tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      Tensor v = in[0].permute({1, 2, 0});
      return std::vector<Tensor>{var(v, {1, 2}), stddev(v, {0}, 1, true)};
    }, {leaf({4, 6, 5}, 43, dt)}, tolerance_for(dt));
    // constant rows: stddev 0, whose gradient is defined as 0
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{stddev(in[0], {1}), var(in[0], {1})};
    }, {values_leaf({2, 2, 2, 1, 2, 3}, {2, 3}, dt, true)}, tolerance_for(dt));
  }
}

TEST_CASE("CUDA: logsumexp matches the CPU (dims, keepdim, row lengths, infinite rows)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (const auto& dims : kDims3)
      for (bool keepdim : {false, true}) {
        INFO("dims size " << dims.size() << " keepdim " << keepdim);
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{logsumexp(in[0], dims, keepdim)};
        }, {leaf({3, 5, 7}, 50, dt)}, tolerance_for(dt));
      }
    for (int64_t n : kRowLengths) {
      INFO("row length " << n);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{logsumexp(in[0], {1}), logsumexp(in[0], {0}, true), logsumexp(in[0].t(), {0})};
      }, {leaf({4, n}, 51, dt)}, tolerance_for(dt));
    }
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{logsumexp(in[0], {0}), logsumexp(in[0], {0, 1})};
    }, {leaf({120000, 2}, 52, dt)}, tolerance_for(dt));
    // large values (the shift keeps them finite), rows of −∞, +∞, NaN (forward only)
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{logsumexp(in[0], {1})};
    }, {values_leaf({800, 801, 799, -inf, -inf, -inf, 1, inf, 2, 1, nan, 3, -inf, 0, 1}, {5, 3}, dt, false)},
       tolerance_for(dt));
  }
}
