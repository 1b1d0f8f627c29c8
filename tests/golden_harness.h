// The harness of the golden-equivalence tests (issue: every layer and model matches PyTorch from the same
// weights). A fixture file in tests/golden/ holds, per case, PyTorch's weights (its state_dict names),
// inputs, outputs, gradients and optimizer-step losses, all float64. A test runs each case in every
// configuration of golden_configs() — float64 on the CPU, float32 on the CPU, and float32 on CUDA where
// a GPU is visible (TF32 off) — and compares every tensor with the tolerance stated for that
// configuration, printing one line per tensor with its max absolute and relative error.
#pragma once
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/serialization/safetensors.h"
#include "layers/module.h"
#include "kiln_test.h"

namespace kiln::test {

// Tolerances (kiln_test.h) of kiln against PyTorch, |kiln − PyTorch| ≤ atol + rtol·|PyTorch|:
// float64: the two differ only in summation order.
inline constexpr Tolerance kGoldenFloat64{1e-10, 1e-10};
// float32 against PyTorch's float64 values: float32 rounding through a few layers (the figure).
inline constexpr Tolerance kGoldenFloat32{1e-5, 1e-4};

struct GoldenConfig {
  Device device;
  DType dtype;
  Tolerance tolerance;
  std::string name() const;  // e.g. "float32 on cuda:0"
};
// float64 on the CPU, float32 on the CPU, and float32 on the first GPU when one is visible.
std::vector<GoldenConfig> golden_configs();

// A fixture file, read once.
class GoldenFile {
 public:
  explicit GoldenFile(const std::string& file_name);  // a file in tests/golden/
  bool has(const std::string& name) const { return file_.contains(name); }
  const Tensor& raw(const std::string& name) const { return file_.at(name); }
  // The tensor called `name` in the configuration's dtype (floating tensors only) on its device, as a
  // fresh leaf (with requires_grad when asked).
  Tensor get(const std::string& name, const GoldenConfig& config, bool requires_grad = false) const;
  // Loads "<prefix>.<name>" for every entry of m's state dict (strict), after moving m to the
  // configuration's device and dtype.
  void load_weights(Module& m, const std::string& prefix, const GoldenConfig& config) const;

 private:
  SafetensorsFile file_;
};

// Compares tensors against PyTorch's, one printed line per tensor:
//   golden conv2d [float32 on cpu]  grad.weight        max abs 3.1e-07  max rel 2.2e-06  ok
class GoldenReport {
 public:
  GoldenReport(std::string case_name, const GoldenConfig& config);
  // Whether every element of `actual` (any device or dtype) is within the tolerance of `expected`.
  bool compare(const std::string& name, const Tensor& actual, const Tensor& expected);
  const std::string& last_line() const { return last_line_; }

 private:
  std::string prefix_;
  Tolerance tolerance_;
  std::string last_line_;
};

}  // namespace kiln::test

// CHECK_GOLDEN(report, "name", actual, expected)
#define CHECK_GOLDEN(REPORT, NAME, ACTUAL, EXPECTED)                  \
  do {                                                                \
    const bool kiln_golden_ok_ = (REPORT).compare(NAME, ACTUAL, EXPECTED); \
    INFO((REPORT).last_line());                                       \
    CHECK(kiln_golden_ok_);                                           \
  } while (0)
