// Anomaly mode (core/autograd/anomaly_mode.h): backward names the op whose backward first produced a
// non-finite gradient, and where that op's forward was called; off, backward does not look.
#include <cmath>
#include <string>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/node.h"
#include "kiln_test.h"

using namespace kiln;

// A forward pass with a name of its own (external linkage, not inlined), so that the call stack the
// anomaly report prints can be checked for it: √x has the finite value 0 at x = 0 and the gradient ∞.
namespace anomaly_test {
[[gnu::noinline]] Tensor scaled_root_forward(const Tensor& x) {
  Tensor root = sqrt(x);
  return mul(root, 3.0);
}
}  // namespace anomaly_test

TEST_CASE("anomaly mode names the op whose backward made a gradient non-finite, and its forward call site",
          "[autograd][anomaly]") {
  Tensor x = test::f64({0, 4}, {2}, true);
  DetectAnomalyGuard detect;
  Tensor loss = sum(add(anomaly_test::scaled_root_forward(x), x));  // finite: 0·3 + 2·3 + 0 + 4
  REQUIRE(loss.item() == 10.0);
  std::string message;
  try {
    loss.backward();
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("the backward of 'sqrt' returned inf in the gradient of its input 0") != std::string::npos);
  CHECK(message.find("anomaly_test::scaled_root_forward") != std::string::npos);
  CHECK(message.find("capture_call_stack") == std::string::npos);  // the machinery's own frames are left out
}

TEST_CASE("anomaly mode blames the first backward, not the ones a non-finite gradient flows through",
          "[autograd][anomaly]") {
  Tensor x = test::f64({0, 1}, {2}, true);
  DetectAnomalyGuard detect;
  Tensor loss = sum(exp(mul(log(x), 2.0)));  // log(0) = −inf: its backward 1/x gives inf; exp and mul pass finite ones
  std::string message;
  try {
    loss.backward();
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  // exp's backward gives dy·exp(2·log 0) = 0, mul's 0·2: finite; log's is 0/0 = nan.
  CHECK(message.find("the backward of 'log' returned nan") != std::string::npos);
}

TEST_CASE("without anomaly mode backward lets non-finite gradients through and records no call stacks",
          "[autograd][anomaly]") {
  REQUIRE_FALSE(anomaly_mode_enabled());
  Tensor x = test::f64({0, 4}, {2}, true);
  Tensor y = sqrt(x);
  CHECK(y.grad_fn()->forward_call_stack().empty());
  sum(y).backward();
  CHECK(std::isinf(x.grad().to_vector<double>()[0]));
  {
    DetectAnomalyGuard detect;
    CHECK(anomaly_mode_enabled());
    CHECK_FALSE(sqrt(x).grad_fn()->forward_call_stack().empty());
  }
  CHECK_FALSE(anomaly_mode_enabled());
}
