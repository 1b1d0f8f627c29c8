// Pooling and nearest upsampling: values against naive loops written here (PyTorch's output sizes,
// padding and window rules), float64 gradient checks over several kernel/stride/padding/dilation
// combinations (distinct input values for max pooling), and the error messages.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/common/pool_math.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

// A float64 leaf whose values are all distinct and ≥ 0.03 apart (no ties for max pooling).
Tensor distinct_input(const Shape& shape, uint64_t seed) {
  std::vector<double> r = random_input(shape, seed).detach().to_vector<double>();
  std::vector<size_t> order(r.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r[a] < r[b]; });
  std::vector<double> v(r.size());
  for (size_t k = 0; k < order.size(); ++k) v[order[k]] = -2.0 + 4.0 * double(k) / double(r.size());
  return f64(v, shape, true);
}

struct Cfg {
  int64_t kH, kW, sH, sW, pH, pW, dH = 1, dW = 1;
};

enum class Kind { Max, Avg, AvgNoPad };

// Naive pooling of planes [P, H, W] → [P, Ho, Wo]; sizes from PyTorch's floor formula.
std::vector<double> naive_pool(Kind kind, const std::vector<double>& x, int64_t P, int64_t H, int64_t W, Cfg c,
                               int64_t& Ho, int64_t& Wo) {
  Ho = (H + 2 * c.pH - c.dH * (c.kH - 1) - 1) / c.sH + 1;
  Wo = (W + 2 * c.pW - c.dW * (c.kW - 1) - 1) / c.sW + 1;
  std::vector<double> y;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), total = 0;
        int64_t inside = 0, inside_padded = 0;
        for (int64_t i = 0; i < c.kH; ++i)
          for (int64_t j = 0; j < c.kW; ++j) {
            int64_t h = oh * c.sH - c.pH + i * c.dH, w = ow * c.sW - c.pW + j * c.dW;
            if (h >= -c.pH && h < H + c.pH && w >= -c.pW && w < W + c.pW) ++inside_padded;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            double v = x[size_t((p * H + h) * W + w)];
            best = std::max(best, v);
            total += v;
            ++inside;
          }
        if (kind == Kind::Max) y.push_back(best);
        else y.push_back(total / double(kind == Kind::Avg ? inside_padded : inside));
      }
  return y;
}

std::vector<double> naive_adaptive(const std::vector<double>& x, int64_t P, int64_t H, int64_t W, int64_t Ho,
                                   int64_t Wo) {
  std::vector<double> y;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        int64_t h0 = int64_t(std::floor(double(i * H) / double(Ho)));
        int64_t h1 = int64_t(std::ceil(double((i + 1) * H) / double(Ho)));
        int64_t w0 = int64_t(std::floor(double(j * W) / double(Wo)));
        int64_t w1 = int64_t(std::ceil(double((j + 1) * W) / double(Wo)));
        double total = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) total += x[size_t((p * H + h) * W + w)];
        y.push_back(total / double((h1 - h0) * (w1 - w0)));
      }
  return y;
}

// Exact rational nearest source, src = ⌊dst·in/out⌋ (equal to PyTorch's float32 rule at these sizes).
std::vector<double> naive_nearest(const std::vector<double>& x, int64_t P, int64_t H, int64_t W, int64_t Ho,
                                  int64_t Wo) {
  std::vector<double> y;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) y.push_back(x[size_t((p * H + i * H / Ho) * W + j * W / Wo)]);
  return y;
}

std::vector<Cfg> window_configs() {
  return {
      {2, 2, 2, 2, 0, 0},           // the classic 2×2/2
      {3, 3, 1, 1, 1, 1},           // overlapping, padded
      {3, 2, 2, 1, 1, 0},           // rectangular
      {3, 3, 2, 2, 1, 0, 1, 2},     // dilated along W
      {2, 3, 1, 2, 1, 1, 2, 1},     // dilated along H, padded
      {4, 4, 3, 3, 2, 2},           // padding = kernel/2
  };
}

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d match naive loops for several windows", "[pool]") {
  const int64_t N = 2, C = 3, H = 7, W = 8;
  Tensor x = random_input({N, C, H, W}, 1).detach();
  std::vector<double> xv = x.to_vector<double>();
  for (const Cfg& c : window_configs()) {
    INFO("kernel " << c.kH << "x" << c.kW << " stride " << c.sH << "x" << c.sW << " pad " << c.pH << "x" << c.pW
                   << " dilation " << c.dH << "x" << c.dW);
    int64_t Ho, Wo;
    std::vector<double> expected = naive_pool(Kind::Max, xv, N * C, H, W, c, Ho, Wo);
    Tensor y = max_pool2d(x, {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, {c.dH, c.dW});
    CHECK(y.shape() == Shape{N, C, Ho, Wo});
    CHECK_CLOSE(y, expected, 0, 0);
    CHECK_CLOSE(max_pool2d(x.to(DType::Float32), {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, {c.dH, c.dW}), expected,
                1e-6, 1e-6);
    if (c.dH == 1 && c.dW == 1) {
      CHECK_CLOSE(avg_pool2d(x, {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, true),
                  naive_pool(Kind::Avg, xv, N * C, H, W, c, Ho, Wo), 1e-14, 1e-12);
      CHECK_CLOSE(avg_pool2d(x, {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, false),
                  naive_pool(Kind::AvgNoPad, xv, N * C, H, W, c, Ho, Wo), 1e-14, 1e-12);
    }
  }
  // stride (0, 0) means stride = kernel; a 3-D [C, H, W] input; a non-contiguous input
  CHECK(max_pool2d(x, {2, 3}).shape() == Shape{N, C, 3, 2});
  CHECK_CLOSE(max_pool2d(x[1], {2, 2}), max_pool2d(x, {2, 2})[1], 0, 0);
  CHECK_CLOSE(avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}), avg_pool2d(x, {3, 3}, {2, 2}, {1, 1})[0], 0, 0);
  Tensor xt = x.transpose(2, 3).contiguous().transpose(2, 3);
  CHECK_CLOSE(max_pool2d(xt, {3, 3}, {1, 1}, {1, 1}), max_pool2d(x, {3, 3}, {1, 1}, {1, 1}), 0, 0);
  // a hand example: 4×4 → 2×2 with 2×2 windows
  Tensor h = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4});
  CHECK_CLOSE(max_pool2d(h, {2, 2}), {6, 8, 14, 16}, 0, 0);
  CHECK_CLOSE(avg_pool2d(h, {2, 2}), {3.5, 5.5, 11.5, 13.5}, 0, 0);
  // padding counted or not: the corner window of a 3×3/1 pool over 1..16 with padding 1
  CHECK(avg_pool2d(h, {3, 3}, {1, 1}, {1, 1}, true).to_vector<double>()[0] == (1 + 2 + 5 + 6) / 9.0);
  CHECK(avg_pool2d(h, {3, 3}, {1, 1}, {1, 1}, false).to_vector<double>()[0] == (1 + 2 + 5 + 6) / 4.0);
}

TEST_CASE("max_pool2d backward routes dy to the (first) maximum of each window", "[pool]") {
  // overlapping 2×2/1 windows over a 3×3 plane whose maximum 9 sits in the middle
  Tensor x = f64({1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3}, true);
  max_pool2d(x, {2, 2}, {1, 1}).backward(f64({1, 2, 3, 4}, {1, 1, 2, 2}));
  CHECK_CLOSE(x.grad(), {0, 0, 0, 0, 10, 0, 0, 0, 0}, 0, 0);
  // ties go to the first element in scan order, as in PyTorch
  Tensor t = f64({5, 5, 5, 5}, {1, 1, 2, 2}, true);
  max_pool2d(t, {2, 2}).backward(f64({1}, {1, 1, 1, 1}));
  CHECK_CLOSE(t.grad(), {1, 0, 0, 0}, 0, 0);
}

TEST_CASE("adaptive_avg_pool2d uses PyTorch's floor/ceil windows", "[pool]") {
  Tensor x = random_input({2, 2, 7, 5}, 2).detach();
  std::vector<double> xv = x.to_vector<double>();
  for (Pair out : {Pair{3, 2}, Pair{7, 5}, Pair{1, 1}, Pair{4, 3}, Pair{9, 8}}) {
    INFO("output " << out[0] << "x" << out[1]);
    Tensor y = adaptive_avg_pool2d(x, out);
    CHECK(y.shape() == Shape{2, 2, out[0], out[1]});
    CHECK_CLOSE(y, naive_adaptive(xv, 4, 7, 5, out[0], out[1]), 1e-14, 1e-12);
  }
  CHECK_CLOSE(adaptive_avg_pool2d(x, {1, 1}), mean(x, {2, 3}).to_vector<double>(), 1e-14, 1e-12);
  CHECK(adaptive_avg_pool2d(x[0], {3, 3}).shape() == Shape{2, 3, 3});
  // hand example: 5 → 3 windows [0, 2), [1, 4), [3, 5)
  Tensor r = f64({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  CHECK_CLOSE(adaptive_avg_pool2d(r, {1, 3}), {1.5, 3, 4.5}, 1e-15, 0);
}

TEST_CASE("upsample_nearest2d copies from src = floor(dst·in/out), or floor(dst/scale_factor) when given", "[pool]") {
  Tensor x = random_input({2, 3, 3, 4}, 3).detach();
  std::vector<double> xv = x.to_vector<double>();
  for (Pair out : {Pair{6, 8}, Pair{7, 5}, Pair{3, 4}, Pair{2, 3}, Pair{9, 13}}) {
    INFO("output " << out[0] << "x" << out[1]);
    Tensor y = upsample_nearest2d(x, out);
    CHECK(y.shape() == Shape{2, 3, out[0], out[1]});
    CHECK_CLOSE(y, naive_nearest(xv, 6, 3, 4, out[0], out[1]), 0, 0);
  }
  Tensor h = f64({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK_CLOSE(upsample_nearest2d(h, {4, 4}), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, 0);
  CHECK_CLOSE(upsample_nearest2d(h, {3, 2}), {1, 2, 1, 2, 3, 4}, 0, 0);
  // PyTorch computes the scale in float32: 2 → 82 maps dst 41 to src 0 (the exact rational rule says 1)
  Tensor two = f64({10, 20}, {1, 1, 2, 1});
  CHECK(upsample_nearest2d(two, {82, 1}).to_vector<double>()[41] == 10);
  CHECK(upsample_nearest2d(two, {82, 1}).to_vector<double>()[42] == 20);
  // a given scale factor sets the step, as in PyTorch: 5 rows × 1.7 → 8 rows from src ⌊dst/1.7⌋ (dst 5 → 2,
  // where ⌊dst·5/8⌋ = 3); 0 leaves an axis to its sizes; the gradient sums into the same sources
  Tensor five = f64({0, 1, 2, 3, 4}, {1, 1, 5, 1});
  CHECK_CLOSE(upsample_nearest2d(five, {8, 1}, {1.7, 0.0}), {0, 0, 1, 1, 2, 2, 3, 4}, 0, 0);
  CHECK_CLOSE(upsample_nearest2d(five, {8, 1}), {0, 0, 1, 1, 2, 3, 3, 4}, 0, 0);
  Tensor leaf = f64({0, 1, 2, 3, 4}, {1, 1, 5, 1}, true);
  sum(upsample_nearest2d(leaf, {8, 1}, {1.7, 0.0})).backward();
  CHECK_CLOSE(leaf.grad(), {2, 2, 2, 1, 1}, 0, 0);
}

// The CUDA backward of nearest upsampling gathers, one thread per input i, the outputs
// [first_nearest_dst(i), first_nearest_dst(i + 1)); the index math is shared, so the CPU checks here that
// those ranges are exactly the outputs whose nearest source is i, for sizes and scale factors alike.
TEST_CASE("first_nearest_dst inverts nearest_source_index (the CUDA upsampling backward's ranges)", "[pool]") {
  for (int64_t in : {1, 2, 3, 5, 7, 16}) {
    for (int64_t out : {1, 2, 3, 4, 8, 9, 13, 32, 82}) {
      for (double scale : {0.0, 1.7, 2.5, double(out) / double(in), 0.6}) {
        if (scale > 0 && int64_t(std::floor(double(in) * scale)) != out) continue;  // a scale fixes out
        const float step = nearest_step(in, out, scale);
        INFO("in " << in << " out " << out << " scale " << scale);
        std::vector<int64_t> owner(static_cast<size_t>(out));
        for (int64_t o = 0; o < out; ++o) owner[size_t(o)] = nearest_source_index(o, in, out, step);
        for (int64_t i = 0; i < in; ++i) {
          const int64_t lo = first_nearest_dst(i, in, out, step), end = first_nearest_dst(i + 1, in, out, step);
          for (int64_t o = 0; o < out; ++o) CHECK((owner[size_t(o)] == i) == (o >= lo && o < end));
        }
      }
    }
  }
}

TEST_CASE("max_pool2d: gradient checks over windows, 3-D and strided inputs", "[pool][gradcheck]") {
  for (const Cfg& c : window_configs()) {
    INFO("kernel " << c.kH << "x" << c.kW << " stride " << c.sH << "x" << c.sW << " pad " << c.pH << "x" << c.pW
                   << " dilation " << c.dH << "x" << c.dW);
    Tensor x = distinct_input({2, 2, 6, 7}, 10);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return max_pool2d(in[0], {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, {c.dH, c.dW});
    }, {x});
  }
  Tensor nhwc = distinct_input({2, 6, 5, 3}, 11);  // viewed as NCHW: non-contiguous
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) { return max_pool2d(in[0].permute({0, 3, 1, 2}), {3, 2}, {1, 2}, {1, 1}); },
      {nhwc});
  Tensor chw = distinct_input({3, 5, 6}, 12);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2, 2}, {1, 1}); }, {chw});
}

TEST_CASE("avg_pool2d: gradient checks with and without counting the padding", "[pool][gradcheck]") {
  for (const Cfg& c : window_configs()) {
    if (c.dH != 1 || c.dW != 1) continue;
    for (bool include : {true, false}) {
      INFO("kernel " << c.kH << "x" << c.kW << " stride " << c.sH << "x" << c.sW << " pad " << c.pH << "x" << c.pW
                     << " count_include_pad " << include);
      Tensor x = random_input({2, 2, 6, 7}, 13);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
        return avg_pool2d(in[0], {c.kH, c.kW}, {c.sH, c.sW}, {c.pH, c.pW}, include);
      }, {x});
    }
  }
  Tensor nhwc = random_input({2, 6, 5, 3}, 14);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return avg_pool2d(in[0].permute({0, 3, 1, 2}), {3, 3}, {2, 1}, {1, 1}, false);
      },
      {nhwc});
  Tensor chw = random_input({3, 5, 6}, 15);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2, 2}); }, {chw});
}

TEST_CASE("adaptive_avg_pool2d and upsample_nearest2d: gradient checks", "[pool][gradcheck]") {
  for (Pair out : {Pair{3, 2}, Pair{4, 4}, Pair{7, 6}, Pair{1, 1}}) {
    INFO("adaptive output " << out[0] << "x" << out[1]);
    Tensor x = random_input({2, 2, 5, 4}, 16);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], out); }, {x});
  }
  Tensor nhwc = random_input({2, 5, 6, 2}, 17);
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0].permute({0, 3, 1, 2}), {2, 4}); },
      {nhwc});
  for (Pair out : {Pair{6, 8}, Pair{7, 5}, Pair{2, 3}, Pair{3, 4}}) {
    INFO("upsample output " << out[0] << "x" << out[1]);
    Tensor x = random_input({2, 2, 3, 4}, 18);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0], out); }, {x});
  }
  Tensor base = random_input({2, 4, 3, 2}, 19);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return upsample_nearest2d(in[0].permute({0, 3, 2, 1}), {5, 9}); },
                  {base});
}

TEST_CASE("pooling ops report bad shapes and arguments clearly", "[pool]") {
  Tensor x = zeros({1, 2, 5, 5}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {3, 3}, {1, 1}, {2, 1}),
                         "padding (2, 1) should be at most half of kernel_size (3, 3)");
  CHECK_THROWS_WITH_TEXT(avg_pool2d(x, {2, 2}, {1, 1}, {0, 2}), "should be at most half of kernel_size");
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {6, 6}), "too small");
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {3, 3}, {1, 1}, {0, 0}, {3, 3}), "too small");
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {0, 2}), "kernel_size must be positive");
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {2, 2}, {-1, 1}), "stride must be positive");
  CHECK_THROWS_WITH_TEXT(max_pool2d(x, {2, 2}, {1, 1}, {0, 0}, {0, 1}), "dilation must be positive");
  CHECK_THROWS_WITH_TEXT(max_pool2d(zeros({5, 5}), {2, 2}), "expected a 3-D [C, H, W] or 4-D [N, C, H, W] input");
  CHECK_THROWS_WITH_TEXT(avg_pool2d(zeros({1, 0, 5, 5}), {2, 2}), "has an empty dim");
  CHECK_THROWS_WITH_TEXT(max_pool2d(zeros({1, 1, 4, 4}, {.dtype = DType::Int64}), {2, 2}), "float32 or float64");
  CHECK_THROWS_WITH_TEXT(adaptive_avg_pool2d(x, {-1, 2}), "output_size must be non-negative");
  CHECK_THROWS_WITH_TEXT(upsample_nearest2d(zeros({2, 5, 5}), {4, 4}), "expected a 4-D [N, C, H, W] input");
  CHECK_THROWS_WITH_TEXT(upsample_nearest2d(x, {0, 4}), "output_size must be positive");
  // an empty batch is fine
  CHECK(max_pool2d(zeros({0, 2, 4, 4}), {2, 2}).shape() == Shape{0, 2, 2, 2});
}
