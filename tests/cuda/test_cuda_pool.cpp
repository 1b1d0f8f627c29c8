// CUDA pooling and nearest upsampling against the CPU, forward and backward, float32 and float64: max pool
// (windows with stride/padding/dilation, ties, NaN), avg pool (count_include_pad on and off), adaptive avg
// pool (shrinking and growing), upsample_nearest2d (2×, same size, odd ratios incl. PyTorch's float rule),
// 3-D inputs, non-contiguous inputs, odd sizes. Both sides sum in double in the same order, so the results
// are expected to agree to the default tolerances (in practice bit for bit).
#include <cmath>

#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor t = random_input(shape, seed).detach();
  if (dtype == DType::Float32) t = t.to(DType::Float32);
  t.requires_grad_(true);
  return t;
}

struct Window {
  Pair kernel, stride, padding, dilation;
};

std::vector<Window> windows() {
  return {
      {{2, 2}, {0, 0}, {0, 0}, {1, 1}},  // the classic 2×2/2
      {{3, 3}, {1, 1}, {1, 1}, {1, 1}},  // overlapping, padded
      {{3, 2}, {2, 1}, {1, 0}, {1, 1}},  // rectangular
      {{3, 3}, {2, 2}, {1, 0}, {1, 2}},  // dilated along W
      {{2, 3}, {1, 2}, {1, 1}, {2, 1}},  // dilated along H, padded
      {{4, 4}, {3, 3}, {2, 2}, {1, 1}},  // padding = kernel/2
      {{1, 1}, {1, 1}, {0, 0}, {1, 1}},  // identity
  };
}

std::string describe(const Window& w) {
  std::ostringstream os;
  os << "kernel " << w.kernel[0] << "×" << w.kernel[1] << " stride " << w.stride[0] << "×" << w.stride[1] << " padding "
     << w.padding[0] << "×" << w.padding[1] << " dilation " << w.dilation[0] << "×" << w.dilation[1];
  return os.str();
}

// Whether the window fits the input: ⌊(in + 2p − d·(k − 1) − 1)/s⌋ + 1 ≥ 1 along both dims.
bool fits(const Shape& shape, const Window& w) {
  for (int d = 0; d < 2; ++d) {
    const int64_t in = shape[shape.size() - 2 + size_t(d)];
    if (in + 2 * w.padding[d] - w.dilation[d] * (w.kernel[d] - 1) - 1 < 0) return false;
  }
  return true;
}

const std::vector<Shape>& input_shapes() {
  static const std::vector<Shape> shapes = {{2, 3, 7, 8}, {1, 1, 5, 5}, {3, 7, 9}, {2, 2, 127, 3}, {1, 3, 33, 65}};
  return shapes;
}

}  // namespace

TEST_CASE("CUDA max_pool2d matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& shape : input_shapes())
      for (const Window& w : windows()) {
        if (!fits(shape, w)) continue;
        INFO(dtype_name(dt) << ", input " << shape_str(shape) << ", " << describe(w));
        CHECK_CUDA_MATCHES_CPU(
            [w](const std::vector<Tensor>& v) {
              return std::vector<Tensor>{max_pool2d(v[0], w.kernel, w.stride, w.padding, w.dilation)};
            },
            (std::vector<Tensor>{leaf(shape, 7, dt)}), test::tolerance_for(dt));
      }
}

TEST_CASE("CUDA max_pool2d breaks ties and handles NaN as the CPU does", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  // values from {0, 1, 2}: many ties inside each window (the first maximum wins on both devices)
  std::vector<double> values(2 * 3 * 9 * 10);
  for (size_t i = 0; i < values.size(); ++i) values[i] = double((i * 7 + i / 5) % 3);
  std::vector<double> with_nan = values;
  with_nan[17] = std::nan("");
  with_nan[123] = std::nan("");
  for (DType dt : {DType::Float32, DType::Float64})
    for (const auto& v : {values, with_nan})
      for (const Window& w : windows()) {
        INFO(dtype_name(dt) << ", " << describe(w));
        Tensor x = f64(v, {2, 3, 9, 10}).to(dt);
        x.requires_grad_(true);
        CHECK_CUDA_MATCHES_CPU(
            [w](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{max_pool2d(in[0], w.kernel, w.stride, w.padding, w.dilation)};
            },
            (std::vector<Tensor>{x}), test::tolerance_for(dt));
      }
}

TEST_CASE("CUDA avg_pool2d matches the CPU, with and without counting the padding", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64})
    for (bool count_include_pad : {true, false})
      for (const Shape& shape : input_shapes())
        for (const Window& w : windows()) {
          if (w.dilation[0] != 1 || w.dilation[1] != 1) continue;  // avg_pool2d has no dilation
          if (!fits(shape, w)) continue;
          INFO(dtype_name(dt) << ", input " << shape_str(shape) << ", " << describe(w) << ", count_include_pad "
                              << count_include_pad);
          CHECK_CUDA_MATCHES_CPU(
              [w, count_include_pad](const std::vector<Tensor>& v) {
                return std::vector<Tensor>{avg_pool2d(v[0], w.kernel, w.stride, w.padding, count_include_pad)};
              },
              (std::vector<Tensor>{leaf(shape, 8, dt)}), test::tolerance_for(dt));
        }
}

TEST_CASE("CUDA adaptive_avg_pool2d matches the CPU, shrinking and growing", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const std::vector<std::pair<Shape, Pair>> cases = {
      {{2, 3, 7, 10}, {1, 1}}, {{2, 3, 7, 10}, {3, 5}},   {{1, 2, 4, 4}, {4, 4}}, {{1, 2, 3, 4}, {5, 7}},
      {{3, 5, 6}, {2, 4}},     {{1, 1, 127, 3}, {13, 2}}, {{1, 2, 1, 1}, {3, 2}}, {{2, 2, 33, 65}, {7, 64}},
  };
  for (DType dt : {DType::Float32, DType::Float64})
    for (const auto& [shape, out] : cases) {
      INFO(dtype_name(dt) << ", input " << shape_str(shape) << " → " << out[0] << "×" << out[1]);
      const Pair o = out;
      CHECK_CUDA_MATCHES_CPU(
          [o](const std::vector<Tensor>& v) { return std::vector<Tensor>{adaptive_avg_pool2d(v[0], o)}; },
          (std::vector<Tensor>{leaf(shape, 9, dt)}), test::tolerance_for(dt));
    }
}

TEST_CASE("CUDA upsample_nearest2d matches the CPU, incl. PyTorch's float32 source rule", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  const std::vector<std::pair<Shape, Pair>> cases = {
      {{2, 3, 4, 5}, {8, 10}},   // 2×
      {{2, 3, 4, 5}, {4, 5}},    // same size
      {{1, 2, 2, 3}, {82, 7}},   // in 2 → out 82: the float scale sends dst 41 to 0, not 1
      {{1, 2, 7, 9}, {3, 4}},    // shrinking
      {{1, 1, 5, 3}, {13, 11}},  // non-integer ratios
      {{2, 1, 1, 1}, {3, 127}}, {{1, 3, 33, 17}, {100, 1025}},
  };
  for (DType dt : {DType::Float32, DType::Float64})
    for (const auto& [shape, out] : cases) {
      INFO(dtype_name(dt) << ", input " << shape_str(shape) << " → " << out[0] << "×" << out[1]);
      const Pair o = out;
      CHECK_CUDA_MATCHES_CPU(
          [o](const std::vector<Tensor>& v) { return std::vector<Tensor>{upsample_nearest2d(v[0], o)}; },
          (std::vector<Tensor>{leaf(shape, 10, dt)}), test::tolerance_for(dt));
    }
  // given scale factors (nn.Upsample(scale_factor=...)): src = ⌊dst/scale⌋ in float32, 5 × 1.7 → 8 and 3 × 2.5 → 7
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(dtype_name(dt) << ", scale factors 1.7 and 2.5");
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& v) {
          return std::vector<Tensor>{upsample_nearest2d(v[0], {8, 7}, {1.7, 2.5})};
        },
        (std::vector<Tensor>{leaf({2, 3, 5, 3}, 13, dt)}), test::tolerance_for(dt));
  }
}

TEST_CASE("CUDA pools of non-contiguous inputs match the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(dtype_name(dt));
    // an NHWC leaf viewed as NCHW, and a sliced plane
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& v) {
          Tensor x = permute(v[0], {0, 3, 1, 2});
          return std::vector<Tensor>{max_pool2d(x, {3, 3}, {2, 1}, {1, 1}),
                                     avg_pool2d(x, {2, 3}, {1, 2}, {1, 1}, false), adaptive_avg_pool2d(x, {3, 2}),
                                     upsample_nearest2d(x, {11, 9})};
        },
        (std::vector<Tensor>{leaf({2, 7, 6, 3}, 11, dt)}), test::tolerance_for(dt));
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& v) {
          Tensor x = slice(slice(v[0], 2, 1, 9, 2), 1, 0, 4, 3);  // strides 2 in H, 3 in C
          return std::vector<Tensor>{max_pool2d(x, {2, 2}), avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}),
                                     adaptive_avg_pool2d(x, {2, 3}), upsample_nearest2d(x, {8, 10})};
        },
        (std::vector<Tensor>{leaf({2, 4, 9, 5}, 12, dt)}), test::tolerance_for(dt));
  }
}
