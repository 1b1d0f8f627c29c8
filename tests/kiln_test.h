// What every kiln test includes: Catch2 (v2 or v3, whichever the build found) and kiln's helpers.
#pragma once
#if defined(KILN_CATCH2_V2_HEADER)
#include KILN_CATCH2_V2_HEADER
#elif __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_test_macros.hpp>
#define KILN_CATCH2_V3 1
#else
#include <catch2/catch.hpp>
#endif

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/gradcheck.h"
#include "core/ops/ops.h"
#include "core/tensor.h"

namespace kiln::test {

// Float64 tensor from values, for tests.
inline Tensor f64(const std::vector<double>& values, const Shape& shape, bool requires_grad = false) {
  return from_vector(values, shape, {.dtype = DType::Float64, .requires_grad = requires_grad});
}

// Random float64 leaf with requires_grad, values in [lo, hi) (default: away from zero, good for
// ops with kinks at 0).
Tensor random_input(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0);

// A comparison's bound: |actual − expected| ≤ atol + rtol·|expected| for every element.
struct Tolerance {
  double atol;
  double rtol;
};

// Whether |actual − expected| ≤ atol + rtol·|expected| everywhere; the message names the worst element.
struct CloseResult {
  bool ok;
  std::string message;
};
CloseResult all_close(const Tensor& actual, const std::vector<double>& expected, double atol = 1e-6, double rtol = 1e-6);
CloseResult all_close(const Tensor& actual, const Tensor& expected, double atol = 1e-6, double rtol = 1e-6);

// The names of named tensors (a module's named_parameters(), a state dict), in order.
inline std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

// An empty folder <temp>/kiln_test_<group>/<name>, made anew (whatever an earlier run left is removed).
std::filesystem::path fresh_dir(const std::string& group, const std::string& name);

// The path of a file in tests/golden/ (expected values written by an independent implementation,
// see tests/golden/README.md).
inline std::string golden_path(const std::string& file) { return std::string(KILN_GOLDEN_DIR) + "/" + file; }

}  // namespace kiln::test

// CHECK_CLOSE(actual, expected[, atol, rtol]): the tolerance is stated at the call site.
#define CHECK_CLOSE(...)                                    \
  do {                                                      \
    auto kiln_close_ = ::kiln::test::all_close(__VA_ARGS__); \
    INFO(kiln_close_.message);                              \
    CHECK(kiln_close_.ok);                                  \
  } while (0)

// CHECK_GRADCHECK(fn, inputs[, options]): runs the gradient checker; tag the test [gradcheck].
#define CHECK_GRADCHECK(...)                                \
  do {                                                      \
    auto kiln_gc_ = ::kiln::gradcheck(__VA_ARGS__);         \
    INFO(kiln_gc_.message);                                 \
    CHECK(kiln_gc_.ok);                                     \
  } while (0)

// CHECK_THROWS_WITH_TEXT(expr, "part of the message")
#define CHECK_THROWS_WITH_TEXT(expr, text)                                            \
  do {                                                                                \
    bool kiln_threw_ = false;                                                         \
    try {                                                                             \
      (void)(expr);                                                                   \
    } catch (const ::kiln::Error& e) {                                                \
      kiln_threw_ = true;                                                             \
      INFO("message: " << e.what());                                                  \
      CHECK(std::string(e.what()).find(text) != std::string::npos);                  \
    }                                                                                 \
    INFO("expected a kiln::Error containing: " << text);                              \
    CHECK(kiln_threw_);                                                               \
  } while (0)
