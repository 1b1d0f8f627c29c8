// Golden equivalence of every layer kind with PyTorch 1.13 (tests/golden/golden_layers.py writes
// layers.safetensors): from PyTorch's weights and inputs, each case's output, the gradient of
// sum(output·w) with respect to the input and every parameter, and the buffers after the forward
// (BatchNorm's running statistics and batch count), in every configuration of golden_configs().
// The hyperparameters of each case are those of golden_layers.py, written out again here.
#include <functional>
#include <memory>
#include <string>

#include "golden_harness.h"
#include "layers/layers.h"

using namespace kiln;
using test::GoldenConfig;

namespace {

const test::GoldenFile& golden() {
  static const test::GoldenFile file("layers.safetensors");
  return file;
}

// Runs fn on the case's input in one configuration and compares the output, the gradients of
// sum(output·w) (of a floating input and of every parameter of m) and m's buffers after the forward.
void run_case(const std::string& name, const GoldenConfig& config, const Module* m,
              const std::function<Tensor(const Tensor&)>& fn, const std::string& input) {
  const test::GoldenFile& g = golden();
  const std::string p = name + ".";
  test::GoldenReport report(name, config);
  const bool floating_input = is_floating(g.raw(p + input).dtype());
  Tensor x = g.get(p + input, config, floating_input);
  Tensor y = fn(x);
  CHECK(y.device() == config.device);
  CHECK(y.dtype() == config.dtype);
  CHECK_GOLDEN(report, "output", y, g.raw(p + "output"));
  sum(mul(y, g.get(p + "w", config))).backward();
  if (floating_input) {
    REQUIRE(x.grad().defined());
    CHECK_GOLDEN(report, "grad." + input, x.grad(), g.raw(p + "grad." + input));
  }
  if (m == nullptr) return;
  for (const auto& [param_name, param] : m->named_parameters()) {
    INFO("parameter " << param_name);
    REQUIRE(g.has(p + "grad." + param_name));
    REQUIRE(param.grad().defined());
    CHECK_GOLDEN(report, "grad." + param_name, param.grad(), g.raw(p + "grad." + param_name));
  }
  for (const auto& [buffer_name, buffer] : m->named_buffers()) {
    INFO("buffer " << buffer_name);
    REQUIRE(g.has(p + "updated." + buffer_name));
    CHECK_GOLDEN(report, "updated." + buffer_name, buffer, g.raw(p + "updated." + buffer_name));
  }
}

// A layer case: a fresh module per configuration (the forward may update its buffers), in training or
// eval mode, with the fixture's state dict.
void check_layer(const std::string& name, const std::function<std::shared_ptr<UnaryModule>()>& make, bool train = true,
                 const std::string& input = "x") {
  for (const GoldenConfig& config : test::golden_configs()) {
    INFO("case " << name << " [" << config.name() << "]");
    std::shared_ptr<UnaryModule> m = make();
    m->train(train);
    golden().load_weights(*m, name, config);
    auto forward = [&](const Tensor& x) { return (*m)(x); };
    run_case(name, config, m.get(), forward, input);
  }
}

// A functional case (an op with no module).
void check_function(const std::string& name, const std::function<Tensor(const Tensor&)>& fn) {
  for (const GoldenConfig& config : test::golden_configs()) {
    INFO("case " << name << " [" << config.name() << "]");
    run_case(name, config, nullptr, fn, "x");
  }
}

template <class M, class... Args>
std::function<std::shared_ptr<UnaryModule>()> make(Args... args) {
  return [=] { return std::make_shared<M>(args...); };
}

// Layers with random initialization draw from this generator, not the default one: the fixture's weights
// replace the draws anyway, and other tests' draws from the default generator stay as they were.
Generator& init_generator() {
  static Generator generator(20261123);
  return generator;
}

template <class M, class... Args>
std::function<std::shared_ptr<UnaryModule>()> make_drawn(Args... args) {
  return [=] { return std::make_shared<M>(args..., init_generator()); };
}

Conv2dOptions conv_options(Size2 stride, Size2 padding, Size2 dilation = 1, int64_t groups = 1, bool bias = true) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = padding;
  o.dilation = dilation;
  o.groups = groups;
  o.bias = bias;
  return o;
}

BatchNormOptions bn_options(double eps, std::optional<double> momentum, bool affine = true, bool track = true) {
  BatchNormOptions o;
  o.eps = eps;
  o.momentum = momentum;
  o.affine = affine;
  o.track_running_stats = track;
  return o;
}

}  // namespace

TEST_CASE("golden: Linear matches torch.nn.Linear", "[golden][layers]") {
  check_layer("linear", make_drawn<Linear>(int64_t(5), int64_t(4), true));
  check_layer("linear_3d", make_drawn<Linear>(int64_t(5), int64_t(4), true));
  check_layer("linear_1d", make_drawn<Linear>(int64_t(5), int64_t(4), true));
  check_layer("linear_nobias", make_drawn<Linear>(int64_t(5), int64_t(4), false));
}

TEST_CASE("golden: Conv2d matches torch.nn.Conv2d (stride, padding, dilation, groups)", "[golden][layers]") {
  check_layer("conv2d", make_drawn<Conv2d>(int64_t(3), int64_t(4), Size2(3), Conv2dOptions{}));
  check_layer("conv2d_stride_pad",
              make_drawn<Conv2d>(int64_t(3), int64_t(4), Size2(3, 2), conv_options({2, 1}, {1, 2})));
  check_layer("conv2d_dilation", make_drawn<Conv2d>(int64_t(2), int64_t(3), Size2(3), conv_options(1, 2, {2, 1})));
  check_layer("conv2d_groups", make_drawn<Conv2d>(int64_t(4), int64_t(6), Size2(3), conv_options(2, 1, 1, 2)));
  check_layer("conv2d_depthwise",
              make_drawn<Conv2d>(int64_t(4), int64_t(4), Size2(3), conv_options(1, 1, 1, 4, false)));
}

TEST_CASE("golden: ConvTranspose2d matches torch.nn.ConvTranspose2d", "[golden][layers]") {
  ConvTranspose2dOptions stride2;
  stride2.stride = 2;
  check_layer("conv_transpose2d", make_drawn<ConvTranspose2d>(int64_t(3), int64_t(2), Size2(3), stride2));
  ConvTranspose2dOptions padded = stride2;
  padded.padding = 1;
  padded.output_padding = 1;
  check_layer("conv_transpose2d_pad", make_drawn<ConvTranspose2d>(int64_t(3), int64_t(2), Size2(3), padded));
  ConvTranspose2dOptions grouped;
  grouped.stride = {2, 1};
  grouped.padding = {1, 0};
  grouped.output_padding = {1, 0};
  grouped.groups = 2;
  grouped.dilation = {1, 2};
  check_layer("conv_transpose2d_groups", make_drawn<ConvTranspose2d>(int64_t(4), int64_t(6), Size2(3, 2), grouped));
}

TEST_CASE("golden: BatchNorm1d/2d match PyTorch in training (running statistics too) and eval", "[golden][layers]") {
  check_layer("batchnorm1d_train", make<BatchNorm1d>(int64_t(4), bn_options(1e-5, 0.1)));
  check_layer("batchnorm1d_train_3d", make<BatchNorm1d>(int64_t(3), bn_options(1e-5, 0.3)));
  check_layer("batchnorm1d_eval", make<BatchNorm1d>(int64_t(4), bn_options(1e-5, 0.1)), false);
  check_layer("batchnorm2d_train", make<BatchNorm2d>(int64_t(3), bn_options(1e-5, 0.1)));
  check_layer("batchnorm2d_eval", make<BatchNorm2d>(int64_t(3), bn_options(1e-3, 0.1)), false);
  check_layer("batchnorm2d_train_cumulative", make<BatchNorm2d>(int64_t(3), bn_options(1e-5, std::nullopt)));
  check_layer("batchnorm2d_no_affine", make<BatchNorm2d>(int64_t(3), bn_options(1e-5, 0.1, false)));
  check_layer("batchnorm2d_untracked_eval", make<BatchNorm2d>(int64_t(3), bn_options(1e-5, 0.1, true, false)), false);
}

TEST_CASE("golden: LayerNorm and GroupNorm match PyTorch", "[golden][layers]") {
  check_layer("layernorm", make<LayerNorm>(Shape{6}));
  check_layer("layernorm_2d", make<LayerNorm>(Shape{3, 4}, 1e-3));
  check_layer("layernorm_no_affine", make<LayerNorm>(Shape{6}, 1e-5, false));
  check_layer("groupnorm", make<GroupNorm>(int64_t(2), int64_t(6)));
  check_layer("groupnorm_3d", make<GroupNorm>(int64_t(3), int64_t(6), 1e-3));
  check_layer("groupnorm_no_affine", make<GroupNorm>(int64_t(1), int64_t(4), 1e-5, false));
}

TEST_CASE("golden: Embedding matches torch.nn.Embedding (repeated indices, padding_idx)", "[golden][layers]") {
  check_layer("embedding", make_drawn<Embedding>(int64_t(7), int64_t(4), std::optional<int64_t>()), true, "indices");
  check_layer("embedding_padding", make_drawn<Embedding>(int64_t(7), int64_t(4), std::optional<int64_t>(2)), true,
              "indices");
  check_layer("embedding_padding_negative", make_drawn<Embedding>(int64_t(7), int64_t(4), std::optional<int64_t>(-1)),
              true, "indices");
}

TEST_CASE("golden: MaxPool2d, AvgPool2d and adaptive_avg_pool2d match PyTorch", "[golden][layers]") {
  check_layer("maxpool2d", make<MaxPool2d>(Size2(3), std::optional<Size2>(2), Size2(1)));
  check_layer("maxpool2d_dilation", make<MaxPool2d>(Size2(2, 3), std::optional<Size2>(1), Size2(0), Size2(2, 1)));
  check_layer("maxpool2d_ties", make<MaxPool2d>(Size2(2), std::optional<Size2>(1)));
  check_layer("avgpool2d", make<AvgPool2d>(Size2(2)));
  check_layer("avgpool2d_pad_include", make<AvgPool2d>(Size2(3), std::optional<Size2>(2), Size2(1), true));
  check_layer("avgpool2d_pad_exclude", make<AvgPool2d>(Size2(3), std::optional<Size2>(2), Size2(1), false));
  check_layer("avgpool2d_rect", make<AvgPool2d>(Size2(3, 2), std::optional<Size2>(Size2(1, 2)), Size2(1), false));
  check_function("adaptive_avgpool2d", [](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 2}); });
  check_function("adaptive_avgpool2d_global", [](const Tensor& x) { return adaptive_avg_pool2d(x, {1, 1}); });
}

TEST_CASE("golden: Upsample (nearest) matches torch.nn.Upsample", "[golden][layers]") {
  check_layer("upsample_scale2", make<Upsample>(2.0));
  check_layer("upsample_scale_2x3", make<Upsample>(2.0, 3.0));
  check_layer("upsample_size", make<Upsample>(Size2(5, 7)));
  check_layer("upsample_scale_1p7", make<Upsample>(1.7));
}
