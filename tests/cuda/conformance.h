// The CUDA-vs-CPU conformance check: run a function of tensors on the CPU (the reference) and on
// CUDA copies of the same inputs, then compare every output and the gradient of every input that
// requires grad. Tolerances are |cuda − cpu| ≤ atol + rtol·|cpu|, stated per dtype below.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/ops/op_table.h"
#include "kiln_test.h"

namespace kiln::test {

// float32: a few ulps of float32 on values of order 1, plus reduction-order differences.
inline constexpr Tolerance kFloat32Tolerance{1e-5, 1e-4};
// float64: reduction order only.
inline constexpr Tolerance kFloat64Tolerance{1e-12, 1e-10};
inline Tolerance tolerance_for(DType dtype) { return dtype == DType::Float64 ? kFloat64Tolerance : kFloat32Tolerance; }

using TensorFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct ConformanceResult {
  bool ok = true;
  std::string message;  // one line per compared tensor: name, max |diff|, max relative diff
};

// Inputs are CPU tensors (leaves; those with requires_grad get their gradients compared).
// The backward seed is the same random projection on both devices.
ConformanceResult cuda_matches_cpu(const TensorFn& fn, const std::vector<Tensor>& cpu_inputs, Tolerance tol);

// The ops met in the autograd graphs of CUDA outputs whose comparison passed (forward and backward):
// tests/main.cpp checks that every differentiable op of the table is among them (KILN_CHECK_CUDA_COVERAGE).
const std::set<OpId>& cuda_conformance_coverage();

}  // namespace kiln::test

// REQUIRE_CUDA_OR_SKIP(): at the top of a [cuda] test case.
#define REQUIRE_CUDA_OR_SKIP()                \
  if (!::kiln::cuda_is_available()) {         \
    WARN("no CUDA device: skipped");          \
    return;                                   \
  }

// CHECK_CUDA_MATCHES_CPU(fn, inputs[, tolerance])
#define CHECK_CUDA_MATCHES_CPU(FN, INPUTS, ...)                                              \
  do {                                                                                     \
    auto kiln_conf_ = ::kiln::test::cuda_matches_cpu(FN, INPUTS, __VA_ARGS__);             \
    INFO(kiln_conf_.message);                                                              \
    CHECK(kiln_conf_.ok);                                                                  \
  } while (0)
