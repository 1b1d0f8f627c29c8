// The autograd engine: accumulation, graph reuse rules, no-grad, detach, in-place checks, errors.
#include "core/allocator.h"
#include "core/autograd/grad_mode.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;

TEST_CASE("backward computes and accumulates gradients into leaves", "[autograd]") {
  Tensor x = f64({1, 2, 3}, {3}, true);
  Tensor y = sum(x * x);  // dy/dx = 2x
  CHECK(y.grad_fn() != nullptr);
  CHECK_FALSE(y.is_leaf());
  CHECK(x.is_leaf());
  y.backward();
  CHECK_CLOSE(x.grad(), {2, 4, 6});
  sum(x * 3.0).backward();  // accumulates: 2x + 3
  CHECK_CLOSE(x.grad(), {5, 7, 9});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("gradients along several paths are summed (diamond graph)", "[autograd]") {
  Tensor x = f64({0.5, -1.0}, {2}, true);
  Tensor a = exp(x), b = a * x, c = a + b;  // c = eˣ(1 + x), dc/dx = eˣ(2 + x)
  sum(c).backward();
  CHECK_CLOSE(x.grad(), {std::exp(0.5) * 2.5, std::exp(-1.0) * 1.0}, 1e-12, 1e-12);
}

TEST_CASE("backward with an explicit gradient, and its checks", "[autograd]") {
  Tensor x = f64({1, 2}, {2}, true);
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_TEXT(y.backward(), "one-element tensor");
  CHECK_THROWS_WITH_TEXT(y.backward(f64({1, 1, 1}, {3})), "does not match tensor shape");
  CHECK_THROWS_WITH_TEXT(y.backward(ones({2})), "dtype float32 does not match");
  y.backward(f64({1, -1}, {2}));
  CHECK_CLOSE(x.grad(), {2, -2});
}

TEST_CASE("a second backward needs retain_graph", "[autograd]") {
  Tensor x = f64({1, 2}, {2}, true);
  Tensor y = sum(exp(x));
  y.backward(Tensor(), true);
  y.backward();  // allowed: the first kept the graph
  CHECK_CLOSE(x.grad(), {2 * std::exp(1.0), 2 * std::exp(2.0)}, 1e-12, 1e-12);
  CHECK_THROWS_WITH_TEXT(y.backward(), "a second time");
  // a graph that saved nothing can be run again, as in PyTorch
  Tensor z = sum(x.view({2, 1}));
  z.backward();
  z.backward();
  CHECK_CLOSE(x.grad(), {2 * std::exp(1.0) + 2, 2 * std::exp(2.0) + 2}, 1e-12, 1e-12);
}

TEST_CASE("a tensor modified in place after being saved is caught", "[autograd]") {
  Tensor x = f64({1, 2}, {2}, true);
  Tensor w = f64({3, 4}, {2});
  Tensor y = sum(x * w);  // mul saves w
  w.mul_(2.0);
  CHECK_THROWS_WITH_TEXT(y.backward(), "modified by an in-place operation");
  // views share the version counter
  Tensor base = f64({1, 2, 3}, {3});
  Tensor view = base.slice(0, 0, 2);
  Tensor z = sum(x * view);
  base.fill_(0.0);
  CHECK_THROWS_WITH_TEXT(z.backward(), "modified by an in-place operation");
}

TEST_CASE("in-place writes to tensors that require grad are refused in grad mode", "[autograd]") {
  Tensor x = f64({1, 2}, {2}, true);
  CHECK_THROWS_WITH_TEXT(x.fill_(0.0), "NoGradGuard");
  CHECK_THROWS_WITH_TEXT((x * 2.0).add_(x), "out-of-place");
  {
    NoGradGuard guard;
    x.mul_(3.0);  // an optimizer update
  }
  CHECK_CLOSE(x, {3, 6});
}

TEST_CASE("no-grad mode, detach and requires_grad rules", "[autograd]") {
  Tensor x = f64({1, 2}, {2}, true);
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_mode_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(grad_mode_enabled());
  Tensor d = (x * 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_TEXT(sum(d).backward(), "does not require grad");
  CHECK_THROWS_WITH_TEXT(arange(3, {.dtype = DType::Int64}).requires_grad_(), "only floating point");
  CHECK_THROWS_WITH_TEXT(y.requires_grad_(false), "use detach()");
  // a backward from a leaf itself seeds its gradient
  Tensor s = f64({2}, {1}, true);
  s.backward();
  CHECK_CLOSE(s.grad(), {1});
}

TEST_CASE("only the inputs that require grad get gradients", "[autograd]") {
  Tensor a = f64({1, 2}, {2}, true);
  Tensor b = f64({3, 4}, {2});
  sum(a * b).backward();
  CHECK_CLOSE(a.grad(), {3, 4});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("view ops: gradient checks", "[autograd][gradcheck]") {
  Tensor x = kiln::test::random_input({2, 3, 4}, 3);
  auto check = [&](auto fn) { CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return fn(in[0]); }, {x}); };
  check([](const Tensor& t) { return t.view({6, 4}) * t.view({6, 4}); });
  check([](const Tensor& t) { return t.permute({2, 0, 1}) * 2.0; });
  check([](const Tensor& t) { return t.transpose(0, 1).reshape({-1}); });
  check([](const Tensor& t) { return t.slice(2, 1, 4, 2) * t.slice(2, 0, 3, 2); });
  check([](const Tensor& t) { return t.select(1, 2) * t.select(1, -1); });
  check([](const Tensor& t) { return t[1][0] * 3.0; });
  check([](const Tensor& t) { return t.narrow(0, 1, 1).unsqueeze(0).squeeze(0).flatten(); });
  check([](const Tensor& t) { return t.unsqueeze(1).expand({2, 5, 3, 4}) * 1.5; });
  check([](const Tensor& t) { return sum_to(t, {3, 1}); });
  check([](const Tensor& t) { return t.transpose(0, 2).contiguous(); });
  check([](const Tensor& t) { return t.clone() * t; });
  // through float32 the function is the identity up to float32 rounding (~6e-8 relative): a 1e-2
  // step keeps the finite difference's rounding error near 1e-5
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].to(DType::Float32).to(DType::Float64) * 2.0; }, {x},
                  {.eps = 1e-2, .atol = 1e-4, .rtol = 1e-4});
}

TEST_CASE("to_device to CUDA and back keeps values and gradients", "[autograd][cuda]") {
  if (!cuda_is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  Tensor x = f64({1, 2, 3}, {3}, true);
  Tensor y = x.to(Device::cuda()).to(Device::cpu());
  CHECK_CLOSE(y, {1, 2, 3});
  sum(y).backward();
  CHECK_CLOSE(x.grad(), {1, 1, 1});
}

TEST_CASE("to_device: gradient check through a CUDA round trip", "[autograd][cuda][gradcheck]") {
  if (!cuda_is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  Tensor x = kiln::test::random_input({3, 4}, 5);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].t().to(Device::cuda()).to(Device::cpu()) * 2.0; },
                  {x});
}
