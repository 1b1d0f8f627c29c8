// The fast path of CPU max and average pooling (kernels/cpu/pool_fast.cpp) against the plain reference
// loops of kernels/cpu/pool.cpp: outputs, argmax and input gradients are bit-identical, float32 and
// float64, for the 2×2 stride-2 kernel (even and odd sizes), strided (channels-last) inputs, overlapping
// and disjoint windows, padding, dilation, batch 1 with one channel, ties, NaNs, and a size large enough
// to run across OpenMP threads.
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/pool_math.h"
#include "kernels/cpu/pool.h"
#include "kiln_test.h"

using kiln::DType;
using kiln::cpu::Pool2dGeometry;

namespace {

struct PoolCase {
  int64_t N, C, H, W, kH, kW, sH, sW, pH, pW, dH, dW;
  bool channels_last;  // x strided as [N, H, W, C] memory (inner stride C, not 1)
};

Pool2dGeometry geometry_of(const PoolCase& c) {
  Pool2dGeometry g;
  g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W;
  g.kH = c.kH, g.kW = c.kW, g.sH = c.sH, g.sW = c.sW, g.pH = c.pH, g.pW = c.pW, g.dH = c.dH, g.dW = c.dW;
  g.Ho = kiln::pool_output_size(c.H, c.kH, c.sH, c.pH, c.dH);
  g.Wo = kiln::pool_output_size(c.W, c.kW, c.sW, c.pW, c.dW);
  return g;
}

// Values from {−1, −0.5, 0, 0.5, 1} (many ties: the first maximum must win in both paths), some −0, a few NaNs.
template <class T>
std::vector<T> tied_values(size_t count, uint32_t seed, bool with_nans) {
  std::mt19937 rng(seed);
  std::vector<T> v(count);
  for (T& e : v) {
    const uint32_t r = rng() % 64;
    e = with_nans && r == 0 ? std::numeric_limits<T>::quiet_NaN() : T(int(r % 5) - 2) / T(2);
    if (r == 1) e = -T(0);  // −0: the gradient passes must still give the reference's bits
  }
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
void compare_case(const PoolCase& c) {
  const Pool2dGeometry g = geometry_of(c);
  const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  const int64_t in_size = g.N * g.C * g.H * g.W, out_size = g.N * g.C * g.Ho * g.Wo;
  const int64_t xs[4] = {g.C * g.H * g.W, c.channels_last ? 1 : g.H * g.W, c.channels_last ? g.W * g.C : g.W,
                         c.channels_last ? g.C : 1};
  // dy is read through a strided view as well: [N, C, Ho, Wo] stored as [N, Ho, Wo, C] when channels_last.
  const int64_t dys[4] = {g.C * g.Ho * g.Wo, c.channels_last ? 1 : g.Ho * g.Wo, c.channels_last ? g.Wo * g.C : g.Wo,
                          c.channels_last ? g.C : 1};
  const T nan = std::numeric_limits<T>::quiet_NaN();
  INFO("N " << c.N << " C " << c.C << " " << c.H << "×" << c.W << " k " << c.kH << "×" << c.kW << " s " << c.sH << ","
            << c.sW << " p " << c.pH << "," << c.pW << " d " << c.dH << "," << c.dW << " channels_last "
            << c.channels_last);
  for (bool with_nans : {false, true}) {
    const std::vector<T> x = tied_values<T>(size_t(in_size), 11, with_nans);
    const std::vector<T> dy = tied_values<T>(size_t(out_size), 12, false);
    std::vector<T> y_fast(size_t(out_size), nan), y_ref(size_t(out_size), nan);
    std::vector<int64_t> arg_fast(size_t(out_size), -7), arg_ref(size_t(out_size), -7);
    kiln::cpu::max_pool2d_forward(dtype, g, x.data(), xs, y_fast.data(), arg_fast.data());
    kiln::cpu::max_pool2d_forward_reference(dtype, g, x.data(), xs, y_ref.data(), arg_ref.data());
    INFO("max pooling, NaNs " << with_nans);
    REQUIRE(same_bits(y_fast, y_ref));
    REQUIRE(arg_fast == arg_ref);
    std::vector<T> dx_fast(size_t(in_size), nan), dx_ref(size_t(in_size), nan);
    kiln::cpu::max_pool2d_backward(dtype, g, dy.data(), dys, arg_ref.data(), dx_fast.data());
    kiln::cpu::max_pool2d_backward_reference(dtype, g, dy.data(), dys, arg_ref.data(), dx_ref.data());
    REQUIRE(same_bits(dx_fast, dx_ref));
  }
  const std::vector<T> x = tied_values<T>(size_t(in_size), 13, false);
  std::vector<T> dy(static_cast<size_t>(out_size));
  std::mt19937 rng(14);
  for (T& e : dy) e = T(std::uniform_real_distribution<double>(-1, 1)(rng));
  if (c.dH != 1 || c.dW != 1) return;  // average pooling has no dilation
  for (bool count_include_pad : {true, false}) {
    INFO("average pooling, count_include_pad " << count_include_pad);
    std::vector<T> y_fast(size_t(out_size), nan), y_ref(size_t(out_size), nan);
    kiln::cpu::avg_pool2d_forward(dtype, g, count_include_pad, x.data(), xs, y_fast.data());
    kiln::cpu::avg_pool2d_forward_reference(dtype, g, count_include_pad, x.data(), xs, y_ref.data());
    REQUIRE(same_bits(y_fast, y_ref));
    std::vector<T> dx_fast(size_t(in_size), nan), dx_ref(size_t(in_size), nan);
    kiln::cpu::avg_pool2d_backward(dtype, g, count_include_pad, dy.data(), dys, dx_fast.data());
    kiln::cpu::avg_pool2d_backward_reference(dtype, g, count_include_pad, dy.data(), dys, dx_ref.data());
    REQUIRE(same_bits(dx_fast, dx_ref));
  }
}

const std::vector<PoolCase> kCases = {
    // N  C   H   W kH kW sH sW pH pW dH dW channels_last
    {2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, false},    // MaxPool2d(2): the one-pass 2×2 kernel
    {2, 3, 7, 9, 2, 2, 2, 2, 0, 0, 1, 1, false},    // odd sizes: the last row/column is not read
    {2, 3, 8, 6, 2, 2, 2, 2, 0, 0, 1, 1, true},     // 2×2 on a strided view: the general loop
    {4, 8, 33, 33, 2, 2, 2, 2, 0, 0, 1, 1, false},  // large enough for OpenMP across planes
    {2, 3, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, false},    // overlapping windows with padding
    {1, 1, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, false},    // batch 1, one channel, stride 1
    {2, 2, 10, 11, 3, 2, 2, 3, 1, 1, 2, 1, false},  // dilation (max only), disjoint along w
    {2, 2, 9, 8, 2, 3, 1, 2, 1, 1, 1, 1, true},     // non-square, strided input
    {3, 2, 6, 6, 3, 3, 3, 3, 1, 0, 1, 1, false},    // disjoint windows with padding
};

}  // namespace

TEST_CASE("pool fast path: max and average pooling are bit-identical to the reference loops (float32)", "[pool][pool_fast]") {
  for (const PoolCase& c : kCases) compare_case<float>(c);
}

TEST_CASE("pool fast path: max and average pooling are bit-identical to the reference loops (float64)", "[pool][pool_fast]") {
  for (const PoolCase& c : kCases) compare_case<double>(c);
}
