// conv2d and conv_transpose2d: values against direct loops written here (a 7-loop convolution and a
// scatter loop for the transposed one), OpenBLAS against the plain GEMM loop, the adjoint identity,
// PyTorch's output sizes, gradient checks across stride/padding/dilation/groups/output_padding, errors.
#include <functional>

#include "kiln_test.h"
#include "ops/conv_case.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::ConvCase;
using kiln::test::describe;
using kiln::test::random_input;

namespace {

struct BlasSwitch {
  bool previous = cpu_blas_enabled();
  explicit BlasSwitch(bool on) { set_cpu_blas_enabled(on); }
  ~BlasSwitch() { set_cpu_blas_enabled(previous); }
};

// The direct 7-loop convolution (n, c_out, oh, ow, c_in of the group, kh, kw), PyTorch's definition.
std::vector<double> naive_conv2d(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b, Shape& shape) {
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(size_t(c.c_out), 0.0);
  const int64_t oh_n = (c.h + 2 * c.padding[0] - c.dilation[0] * (c.kh - 1) - 1) / c.stride[0] + 1;
  const int64_t ow_n = (c.w + 2 * c.padding[1] - c.dilation[1] * (c.kw - 1) - 1) / c.stride[1] + 1;
  const int64_t cin_g = c.c_in / c.groups, cout_g = c.c_out / c.groups;
  shape = {c.n, c.c_out, oh_n, ow_n};
  std::vector<double> y;
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t co = 0; co < c.c_out; ++co)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double acc = bv[size_t(co)];
          const int64_t g = co / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t ih = oh * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const int64_t iw = ow * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                acc += xv[size_t(((n * c.c_in + g * cin_g + ci) * c.h + ih) * c.w + iw)] *
                       wv[size_t(((co * cin_g + ci) * c.kh + i) * c.kw + j)];
              }
          y.push_back(acc);
        }
  return y;
}

// The transposed convolution as a scatter: every input element adds x·w into the outputs its taps reach.
// Weight [C_in, C_out/groups, kH, kW].
std::vector<double> naive_conv_transpose2d(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b,
                                           Shape& shape) {
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const int64_t oh_n = (c.h - 1) * c.stride[0] - 2 * c.padding[0] + c.dilation[0] * (c.kh - 1) + c.output_padding[0] + 1;
  const int64_t ow_n = (c.w - 1) * c.stride[1] - 2 * c.padding[1] + c.dilation[1] * (c.kw - 1) + c.output_padding[1] + 1;
  const int64_t cin_g = c.c_in / c.groups, cout_g = c.c_out / c.groups;
  shape = {c.n, c.c_out, oh_n, ow_n};
  std::vector<double> y(size_t(c.n * c.c_out * oh_n * ow_n), 0.0);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t ci = 0; ci < c.c_in; ++ci)
      for (int64_t ih = 0; ih < c.h; ++ih)
        for (int64_t iw = 0; iw < c.w; ++iw) {
          const double xval = xv[size_t(((n * c.c_in + ci) * c.h + ih) * c.w + iw)];
          const int64_t g = ci / cin_g;
          for (int64_t co = 0; co < cout_g; ++co)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t oh = ih * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const int64_t ow = iw * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (oh < 0 || oh >= oh_n || ow < 0 || ow >= ow_n) continue;
                y[size_t(((n * c.c_out + g * cout_g + co) * oh_n + oh) * ow_n + ow)] +=
                    xval * wv[size_t(((ci * cout_g + co) * c.kh + i) * c.kw + j)];
              }
        }
  if (b.defined()) {
    std::vector<double> bv = b.to_vector<double>();
    for (size_t k = 0; k < y.size(); ++k) y[k] += bv[(k / size_t(oh_n * ow_n)) % size_t(c.c_out)];
  }
  return y;
}

std::vector<ConvCase> conv_cases() {
  return {
      {2, 3, 5, 5, 4, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {1, 2, 6, 5, 2, 3, 2, {2, 1}, {1, 0}, {1, 1}, 1, false},
      {1, 4, 5, 6, 4, 3, 3, {1, 1}, {1, 2}, {2, 1}, 2, true},
      {2, 4, 4, 4, 6, 1, 1, {1, 1}, {0, 0}, {1, 1}, 2, true},   // 1×1: the columns are the image itself
      {1, 3, 7, 7, 3, 3, 3, {2, 3}, {1, 1}, {2, 2}, 3, true},   // depthwise, dilated, uneven stride
      {1, 2, 3, 3, 2, 3, 3, {1, 1}, {2, 2}, {1, 1}, 1, true},   // padding beyond the kernel's reach
      {1, 2, 5, 4, 3, 1, 1, {2, 2}, {1, 0}, {1, 1}, 1, false},  // 1×1 with stride and padding
  };
}

std::vector<ConvCase> transpose_cases() {
  return {
      {1, 2, 3, 3, 3, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, true, {1, 1}},   // the classic ×2 upsampling
      {2, 4, 2, 3, 2, 2, 3, {2, 1}, {0, 0}, {1, 1}, 2, false, {1, 0}},
      {1, 2, 3, 3, 2, 3, 2, {1, 1}, {1, 0}, {2, 1}, 1, true, {0, 0}},
      {1, 2, 2, 2, 4, 3, 3, {1, 1}, {0, 0}, {2, 2}, 2, true, {1, 1}},   // output_padding ≥ stride, < dilation
      {1, 3, 2, 2, 3, 4, 4, {2, 2}, {1, 1}, {1, 1}, 3, true, {0, 0}},   // depthwise, DCGAN-style k4 s2 p1
      {2, 2, 3, 2, 2, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true, {0, 0}},   // 1×1
  };
}

Tensor conv_weight(const ConvCase& c, uint64_t seed) {
  return random_input({c.c_out, c.c_in / c.groups, c.kh, c.kw}, seed, -1, 1);
}
Tensor transpose_weight(const ConvCase& c, uint64_t seed) {
  return random_input({c.c_in, c.c_out / c.groups, c.kh, c.kw}, seed, -1, 1);
}

Tensor run_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  return conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
}
Tensor run_transpose(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  return conv_transpose2d(x, w, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
}

}  // namespace

TEST_CASE("conv2d: a hand-computed 3×3 convolution", "[conv]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = f64({1, 0, 0, -1}, {1, 1, 2, 2});
  CHECK_CLOSE(conv2d(x, w), {-4, -4, -4, -4}, 0, 0);  // x[i][j] − x[i+1][j+1]
  CHECK_CLOSE(conv2d(x, w, f64({0.5}, {1}), {2, 2}, {1, 1}), {-0.5, -2.5, -6.5, 0.5 + 5 - 9}, 1e-15, 0);
}

TEST_CASE("conv2d: matches the direct 7-loop convolution (float64, float32, OpenBLAS and plain loop)", "[conv]") {
  uint64_t seed = 1;
  for (const ConvCase& c : conv_cases()) {
    INFO(describe(c));
    Tensor x = random_input({c.n, c.c_in, c.h, c.w}, seed++).detach(), w = conv_weight(c, seed++).detach();
    Tensor b = c.bias ? random_input({c.c_out}, seed++).detach() : Tensor();
    Shape shape;
    std::vector<double> expected = naive_conv2d(c, x, w, b, shape);
    Tensor y = run_conv(c, x, w, b);
    CHECK(y.shape() == shape);
    CHECK_CLOSE(y, expected, 1e-12, 1e-12);
    for (bool blas : {true, false}) {
      BlasSwitch use(blas);
      Tensor b32 = b.defined() ? b.to(DType::Float32) : Tensor();
      CHECK_CLOSE(run_conv(c, x.to(DType::Float32), w.to(DType::Float32), b32), expected, 1e-5, 1e-5);
    }
    // a non-contiguous input (NHWC memory seen as NCHW) gives the same values
    Tensor x_nhwc = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
    CHECK_CLOSE(run_conv(c, x_nhwc, w, b), expected, 1e-12, 1e-12);
  }
}

TEST_CASE("conv_transpose2d: matches the direct scatter loop (float64, float32, OpenBLAS and plain loop)", "[conv]") {
  uint64_t seed = 50;
  for (const ConvCase& c : transpose_cases()) {
    INFO(describe(c));
    Tensor x = random_input({c.n, c.c_in, c.h, c.w}, seed++).detach(), w = transpose_weight(c, seed++).detach();
    Tensor b = c.bias ? random_input({c.c_out}, seed++).detach() : Tensor();
    Shape shape;
    std::vector<double> expected = naive_conv_transpose2d(c, x, w, b, shape);
    Tensor y = run_transpose(c, x, w, b);
    CHECK(y.shape() == shape);
    CHECK_CLOSE(y, expected, 1e-12, 1e-12);
    for (bool blas : {true, false}) {
      BlasSwitch use(blas);
      Tensor b32 = b.defined() ? b.to(DType::Float32) : Tensor();
      CHECK_CLOSE(run_transpose(c, x.to(DType::Float32), w.to(DType::Float32), b32), expected, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("conv: output sizes follow PyTorch's formulas", "[conv]") {
  auto conv_shape = [](Shape x, Shape w, Pair s, Pair p, Pair d, int64_t g) {
    return conv2d(zeros(x), zeros(w), Tensor(), s, p, d, g).shape();
  };
  CHECK(conv_shape({1, 1, 5, 5}, {1, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1) == Shape{1, 1, 3, 3});
  CHECK(conv_shape({2, 3, 7, 8}, {6, 1, 3, 3}, {1, 1}, {0, 0}, {2, 2}, 3) == Shape{2, 6, 3, 4});
  CHECK(conv_shape({1, 1, 28, 28}, {8, 1, 4, 4}, {2, 2}, {1, 1}, {1, 1}, 1) == Shape{1, 8, 14, 14});
  CHECK(conv_shape({1, 1, 6, 6}, {1, 1, 3, 3}, {4, 4}, {0, 0}, {1, 1}, 1) == Shape{1, 1, 1, 1});
  auto transpose_shape = [](Shape x, Shape w, Pair s, Pair p, Pair op, int64_t g, Pair d) {
    return conv_transpose2d(zeros(x), zeros(w), Tensor(), s, p, op, g, d).shape();
  };
  CHECK(transpose_shape({1, 100, 1, 1}, {100, 64, 4, 4}, {1, 1}, {0, 0}, {0, 0}, 1, {1, 1}) == Shape{1, 64, 4, 4});
  CHECK(transpose_shape({1, 64, 4, 4}, {64, 32, 4, 4}, {2, 2}, {1, 1}, {0, 0}, 1, {1, 1}) == Shape{1, 32, 8, 8});
  CHECK(transpose_shape({1, 2, 3, 3}, {2, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, {1, 1}) == Shape{1, 1, 6, 6});
  CHECK(transpose_shape({1, 4, 3, 5}, {4, 3, 3, 2}, {3, 1}, {2, 0}, {2, 0}, 2, {1, 2}) == Shape{1, 6, 7, 7});
  // unbatched [C, H, W] input, as PyTorch allows
  Tensor x3 = random_input({2, 4, 4}, 7).detach(), w = random_input({3, 2, 3, 3}, 8).detach();
  Tensor y3 = conv2d(x3, w, Tensor(), {1, 1}, {1, 1});
  CHECK(y3.shape() == Shape{3, 4, 4});
  CHECK_CLOSE(y3, conv2d(x3.unsqueeze(0), w, Tensor(), {1, 1}, {1, 1}).squeeze(0), 0, 0);
  CHECK(conv_transpose2d(random_input({3, 2, 2}, 9).detach(), w).shape() == Shape{2, 4, 4});
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d: <conv2d(x, W), y> = <x, conv_transpose2d(y, W)>", "[conv]") {
  // conv2d: x [2, 4, 7, 6] → y [2, 6, 3, 3] with stride 2, padding 1, dilation (1, 2), groups 2.
  Tensor x = random_input({2, 4, 7, 6}, 11).detach(), w = random_input({6, 2, 3, 2}, 12).detach();
  Tensor y = random_input({2, 6, 4, 3}, 13).detach();
  Tensor cx = conv2d(x, w, Tensor(), {2, 2}, {1, 1}, {1, 2}, 2);
  REQUIRE(cx.shape() == y.shape());
  Tensor ty = conv_transpose2d(y, w, Tensor(), {2, 2}, {1, 1}, {0, 1}, 2, {1, 2});
  REQUIRE(ty.shape() == x.shape());
  const double lhs = sum(cx * y).item(), rhs = sum(x * ty).item();
  CHECK(lhs != 0);
  CHECK(std::fabs(lhs - rhs) <= 1e-10 * std::fabs(lhs));
}

TEST_CASE("conv2d: gradient checks across stride, padding, dilation and groups", "[conv][gradcheck]") {
  uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) {
    INFO(describe(c));
    Tensor x = random_input({c.n, c.c_in, c.h, c.w}, seed++), w = conv_weight(c, seed++);
    if (c.bias) {
      Tensor b = random_input({c.c_out}, seed++);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return run_conv(c, in[0], in[1], in[2]); }, {x, w, b});
    } else {
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return run_conv(c, in[0], in[1], Tensor()); }, {x, w});
    }
  }
  // a non-contiguous input (NHWC memory seen as NCHW) and a permuted weight
  ConvCase c = conv_cases()[2];
  auto fn = [&](const std::vector<Tensor>& in) {
    return run_conv(c, in[0].permute({0, 3, 1, 2}), in[1].permute({1, 0, 2, 3}), in[2]);
  };
  CHECK_GRADCHECK(fn, {random_input({c.n, c.h, c.w, c.c_in}, 150), random_input({c.c_in / c.groups, c.c_out, c.kh, c.kw}, 151),
                       random_input({c.c_out}, 152)});
  // only the weight needs a gradient
  Tensor x = random_input({1, 2, 4, 4}, 153).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return conv2d(x, in[0], Tensor(), {2, 2}, {1, 1}); },
                  {random_input({3, 2, 3, 3}, 154)});
}

TEST_CASE("conv_transpose2d: gradient checks across stride, padding, output_padding, dilation and groups",
          "[conv][gradcheck]") {
  uint64_t seed = 200;
  for (const ConvCase& c : transpose_cases()) {
    INFO(describe(c));
    Tensor x = random_input({c.n, c.c_in, c.h, c.w}, seed++), w = transpose_weight(c, seed++);
    if (c.bias) {
      Tensor b = random_input({c.c_out}, seed++);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return run_transpose(c, in[0], in[1], in[2]); }, {x, w, b});
    } else {
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return run_transpose(c, in[0], in[1], Tensor()); }, {x, w});
    }
  }
  ConvCase c = transpose_cases()[0];
  auto fn = [&](const std::vector<Tensor>& in) { return run_transpose(c, in[0].transpose(2, 3), in[1], in[2]); };
  CHECK_GRADCHECK(fn, {random_input({c.n, c.c_in, c.w, c.h}, 250), transpose_weight(c, 251), random_input({c.c_out}, 252)});
  // a transposed convolution feeding a convolution (the two backwards chained)
  auto chain = [](const std::vector<Tensor>& in) {
    return conv2d(conv_transpose2d(in[0], in[1], Tensor(), {2, 2}, {1, 1}, {1, 1}), in[2], Tensor(), {1, 1}, {1, 1});
  };
  CHECK_GRADCHECK(chain, {random_input({1, 2, 2, 2}, 253), random_input({2, 2, 3, 3}, 254), random_input({1, 2, 3, 3}, 255)});
}

TEST_CASE("conv2d: errors name the op, the argument and the shapes", "[conv]") {
  Tensor x = zeros({1, 4, 5, 5}), w = zeros({6, 2, 3, 3});
  CHECK_THROWS_WITH_TEXT(conv2d(zeros({4, 5}), w), "conv2d: input has 2 dims, expected 4 ([N, C_in, H, W])");
  CHECK_THROWS_WITH_TEXT(conv2d(x, zeros({6, 2, 3})), "conv2d: weight has 3 dims, expected 4 ([C_out, C_in/groups, kH, kW])");
  CHECK_THROWS_WITH_TEXT(conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 0, 0})), "kernel size must be positive");
  CHECK_THROWS_WITH_TEXT(conv2d(zeros({1, 3, 5, 5}), zeros({6, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2),
                         "input channels C_in = 3 are not divisible by groups = 2");
  CHECK_THROWS_WITH_TEXT(conv2d(x, zeros({5, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2),
                         "C_out = weight.size(0) = 5 are not divisible by groups = 2");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w), "expects 2 input channels");
  CHECK_THROWS_WITH_TEXT(conv2d(zeros({1, 2, 2, 2}), zeros({1, 2, 3, 3})),
                         "the padded input (2 × 2) is smaller than the dilated kernel (3 × 3)");
  CHECK_THROWS_WITH_TEXT(conv2d(zeros({1, 2, 5, 5}), zeros({1, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {3, 3}),
                         "smaller than the dilated kernel (7 × 7)");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w, Tensor(), {0, 1}, {0, 0}, {1, 1}, 2), "stride must be positive");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w, Tensor(), {1, 1}, {-1, 0}, {1, 1}, 2), "padding must be non-negative");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {0, 1}, 2), "dilation must be positive");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, 1}, 0), "groups must be positive");
  CHECK_THROWS_WITH_TEXT(conv2d(x, w, zeros({4}), {1, 1}, {0, 0}, {1, 1}, 2), "bias has shape [4], expected [6]");
  CHECK_THROWS_WITH_TEXT(conv2d(x, zeros({6, 2, 3, 3}, {.dtype = DType::Float64}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2),
                         "dtype mismatch");
}

TEST_CASE("conv_transpose2d: errors name the op, the argument and the shapes", "[conv]") {
  Tensor x = zeros({1, 4, 3, 3}), w = zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(zeros({4, 3}), w), "conv_transpose2d: input has 2 dims");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, zeros({4, 3, 3})), "expected 4 ([C_in, C_out/groups, kH, kW])");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, zeros({2, 3, 3, 3})), "expects C_in = weight.size(0) = 2 input channels");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, w, Tensor(), {1, 1}, {0, 0}, {0, 0}, 3),
                         "input channels C_in = 4 are not divisible by groups = 3");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, w, Tensor(), {2, 2}, {0, 0}, {2, 0}),
                         "output_padding (2, 0) must be non-negative and smaller than either stride (2, 2) or dilation (1, 1)");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, 1}), "output_padding (1, 1)");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(zeros({1, 4, 1, 1}), zeros({4, 3, 1, 1}), Tensor(), {1, 1}, {1, 1}),
                         "the output would be -1 × -1");
  CHECK_THROWS_WITH_TEXT(conv_transpose2d(x, w, zeros({4})), "bias has shape [4], expected [3]");
  CHECK(conv_transpose2d(x, w, Tensor(), {1, 1}, {0, 0}, {0, 0}, 2).shape() == Shape{1, 6, 5, 5});  // C_out = 3·2
}
