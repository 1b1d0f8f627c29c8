// The engine's in-place accumulation of view gradients (core/autograd/engine.cpp): select and slice (so
// narrow, split and chunk) add their gradient into one buffer per input. Each case is compared with the
// reference path (every view's apply() building a whole-input zero tensor) and gradient-checked in float64;
// the bytes allocated by an LSTM cell loop's backward grow linearly with the sequence length.
#include <functional>
#include <optional>

#include "core/allocator.h"
#include "core/autograd/node.h"
#include "core/ops/rnn.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::random_input;

namespace {

// Switches the engine to the reference path of view gradients for one scope.
struct ReferenceViewGradients {
  ReferenceViewGradients() { set_in_place_view_gradients(false); }
  ~ReferenceViewGradients() { set_in_place_view_gradients(true); }
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// The gradients of sum(fn(inputs)·weights) with respect to every input, on the given path.
std::vector<Tensor> gradients(const Fn& fn, const std::vector<Tensor>& inputs, bool in_place) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) leaves.push_back(x.detach().clone().requires_grad_());
  Tensor y = fn(leaves);
  Tensor weights = random_input(y.shape(), 99).detach();
  {
    std::optional<ReferenceViewGradients> reference;
    if (!in_place) reference.emplace();
    sum(y * weights).backward();
  }
  std::vector<Tensor> grads;
  for (const Tensor& x : leaves) grads.push_back(x.grad());
  return grads;
}

// Both paths give the same gradients (to float64 rounding: the sums may run in another order), and the
// gradient checker agrees.
void check_view_case(const Fn& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> fast = gradients(fn, inputs, true), reference = gradients(fn, inputs, false);
  REQUIRE(fast.size() == reference.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    REQUIRE(fast[i].defined() == reference[i].defined());
    if (fast[i].defined()) CHECK_CLOSE(fast[i], reference[i], 1e-12, 1e-12);
  }
  CHECK_GRADCHECK(fn, inputs);
}

}  // namespace

TEST_CASE("view gradients: every select of a tensor (unbind) sums into one buffer", "[autograd][views][gradcheck]") {
  check_view_case(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> rows;
        for (int64_t t = 0; t < in[0].size(0); ++t) rows.push_back(select(in[0], 0, t) * double(t + 1));
        return stack(rows, 0);
      },
      {random_input({5, 3, 4}, 1)});
}

TEST_CASE("view gradients: split, chunk and narrow along an inner dim", "[autograd][views][gradcheck]") {
  check_view_case(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> qkv = split(in[0], 2, 2);  // regions that are not contiguous
        std::vector<Tensor> halves = chunk(in[0], 2, 1);
        return qkv[0] * qkv[1] * qkv[2] + narrow(sum(halves[1], {1}, true), 2, 0, 2) + narrow(in[0], 2, 1, 2);
      },
      {random_input({2, 4, 6}, 2)});
}

TEST_CASE("view gradients: views of views, slices with a step", "[autograd][views][gradcheck]") {
  check_view_case(
      [](const std::vector<Tensor>& in) {
        Tensor inner = slice(in[0], 1, 1, 4);  // [3, 3, 5]
        Tensor a = select(select(inner, 0, 2), 1, 4) * 2.0;
        Tensor b = select(slice(inner, 2, 0, 5, 2), 0, 0);  // [3, 3]
        Tensor c = narrow(narrow(in[0], 0, 1, 2), 2, 3, 2);  // [2, 4, 2]
        return cat({a, flatten(b), flatten(c), flatten(select(inner, 2, 1))}, 0);
      },
      {random_input({3, 4, 5}, 3)});
}

TEST_CASE("view gradients: views that get no gradient", "[autograd][views][gradcheck]") {
  check_view_case(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> parts = split(exp(in[0]), 1, 0);  // only parts[1] and parts[3] are used
        Tensor unused = select(in[0], 1, 0) * 5.0;
        (void)unused;
        return parts[1] * parts[3];
      },
      {random_input({4, 3}, 4)});
}

TEST_CASE("view gradients: a tensor used whole and through views, in either order", "[autograd][views][gradcheck]") {
  Tensor x = random_input({3, 4}, 6);
  // whole first: sum's gradient arrives as a broadcast view, which the engine copies before adding a region
  check_view_case(
      [](const std::vector<Tensor>& in) {
        Tensor y = tanh(in[0]);
        return sum(y, {0}) + select(y, 0, 1) + narrow(y, 0, 2, 1).squeeze(0) * sum(select(y, 1, 0));
      },
      {x});
  // views first, and the whole tensor twice more
  check_view_case(
      [](const std::vector<Tensor>& in) {
        Tensor y = in[0] * in[1];
        return select(y, 0, 0) * 3.0 + select(y, 0, 2) + sum(y, {0}) + y.select(0, 1) * y.select(0, 1);
      },
      {x, random_input({3, 4}, 7)});
  // a leaf viewed directly, and also used whole by two ops
  check_view_case(
      [](const std::vector<Tensor>& in) {
        return select(in[0], 1, 3) + narrow(in[0], 1, 0, 1).squeeze(1) + sum(in[0] * in[0], {1}) + sum(in[0], {1});
      },
      {x});
}

TEST_CASE("view gradients: leaves accumulate across backward calls and retained graphs", "[autograd][views]") {
  Tensor x = kiln::test::f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
  Tensor y = select(x, 0, 0) * 2.0 + select(x, 0, 1) * x.select(0, 0);  // dy/dx0 = 2 + x1, dy/dx1 = x0
  sum(y).backward(Tensor(), /*retain_graph=*/true);
  CHECK_CLOSE(x.grad(), {6, 7, 8, 1, 2, 3});
  sum(y).backward();
  CHECK_CLOSE(x.grad(), {12, 14, 16, 2, 4, 6});
  x.set_grad(Tensor());
  sum(narrow(x, 1, 1, 2)).backward();  // a new graph over the same leaf
  CHECK_CLOSE(x.grad(), {0, 1, 1, 0, 1, 1});
  // The gradient a leaf receives is its own tensor, never the engine's buffer or another gradient.
  Tensor g = x.grad();
  sum(select(x, 1, 0)).backward();
  CHECK_CLOSE(g, {0, 1, 1, 0, 1, 1});
  CHECK_CLOSE(x.grad(), {1, 1, 1, 1, 1, 1});
}

TEST_CASE("view gradients: an LSTM cell loop gets the reference gradients", "[autograd][views][rnn]") {
  const int64_t T = 5, N = 2, input = 3, H = 4;
  std::vector<Tensor> inputs{random_input({T, N, input}, 10, -1, 1), random_input({4 * H, input}, 11, -0.5, 0.5),
                             random_input({4 * H, H}, 12, -0.5, 0.5), random_input({4 * H}, 13, -0.5, 0.5),
                             random_input({4 * H}, 14, -0.5, 0.5)};
  check_view_case(
      [](const std::vector<Tensor>& in) {
        RnnForwardOptions options;
        options.backend = RnnBackend::CellLoop;
        return lstm(in[0], Tensor(), Tensor(), {in[1], in[2], in[3], in[4]}, options).output;
      },
      inputs);
}

// The bytes allocated during an LSTM cell loop's backward, for T steps (float32, small sizes).
double backward_bytes(int64_t T) {
  Generator gen(7);
  const int64_t N = 4, input = 8, H = 32;
  std::vector<Tensor> weights;
  for (Shape s : {Shape{4 * H, input}, Shape{4 * H, H}, Shape{4 * H}, Shape{4 * H}})
    weights.push_back(mul(randn(s, {}, gen), 0.1).requires_grad_());
  Tensor x = randn({T, N, input}, {}, gen).requires_grad_();
  RnnForwardOptions options;
  options.backend = RnnBackend::CellLoop;
  Tensor loss = sum(lstm(x, Tensor(), Tensor(), weights, options).output);
  const size_t before = memory_counters(Device::cpu()).handed_out;
  loss.backward();
  return double(memory_counters(Device::cpu()).handed_out - before);
}

TEST_CASE("view gradients: an LSTM backward allocates linearly in the sequence length", "[autograd][views][rnn]") {
  // 4× the steps: about 4× the bytes. The reference path (a zero tensor of all T steps per step) allocates
  // about 16× for the quadratic term, which the check must see, so that it guards the fix.
  const double in_place = backward_bytes(64) / backward_bytes(16);
  INFO("in place: 64 steps allocate " << in_place << "x the bytes of 16 steps");
  CHECK(in_place < 5.0);
  ReferenceViewGradients reference;
  const double zeros_per_view = backward_bytes(64) / backward_bytes(16);
  INFO("reference: 64 steps allocate " << zeros_per_view << "x the bytes of 16 steps");
  CHECK(zeros_per_view > 8.0);
}
