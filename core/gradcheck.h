// The gradient checker: compares the gradients autograd computes with central finite differences.
// A public utility: use it on any function of tensors, e.g. a new op or a whole layer.
//
//   auto r = kiln::gradcheck([](const std::vector<Tensor>& in) { return kiln::tanh(in[0]); }, {x});
//   if (!r.ok) std::cerr << r.message;
//
// It projects the outputs on fixed random weights w (L = Σ w·y), so one backward gives the exact
// vector–Jacobian product, and compares it with (L(x + ε) − L(x − ε)) / 2ε for every input element.
// Inputs that should be checked must be float64 leaves with requires_grad; others are held fixed.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/ops/op_table.h"
#include "core/tensor.h"

namespace kiln {

struct GradcheckOptions {
  double eps = 1e-6;     // finite-difference step
  double atol = 1e-5;    // |analytic − numeric| ≤ atol + rtol·|numeric|
  double rtol = 1e-4;
  bool allow_zero_gradient = false;  // by default an all-zero gradient fails: such a check proves nothing
  uint64_t seed = 20261122;          // seed of the projection weights
};

struct GradcheckResult {
  bool ok = false;
  std::string message;      // what failed, with the input, element, analytic and numeric values
  double max_abs_error = 0;
  std::set<OpId> ops;       // the ops whose backward this check went through
};

using MultiOutputFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using SingleOutputFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const MultiOutputFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});
GradcheckResult gradcheck(const SingleOutputFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// The ops that passing gradchecks in this process went through (the coverage test reads this).
const std::set<OpId>& gradcheck_coverage();

}  // namespace kiln
