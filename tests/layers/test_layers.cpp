// The basic layers: PyTorch's parameter names, shapes and default initialization, BatchNorm and Dropout in
// training and eval, forwards against the functional ops, float64 gradient checks, errors and reprs.
#include <algorithm>
#include <cmath>

#include "kiln_test.h"
#include "layers/layers.h"

using namespace kiln;
using kiln::test::names_of;
using kiln::test::random_input;

namespace {

// Every value within ±bound, reaching close to it, with the mean and variance of U(−bound, bound).
void check_uniform(const Tensor& t, double bound) {
  std::vector<double> v = t.to_vector<double>();
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  double variance = sq / double(v.size());
  INFO("bound " << bound << " min " << lo << " max " << hi << " mean " << mean << " var " << variance);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi > 0.9 * bound);
  CHECK(lo < -0.9 * bound);
  CHECK(std::fabs(mean) < 0.1 * bound);
  CHECK(std::fabs(variance - bound * bound / 3) < 0.15 * bound * bound / 3);
}

// Converts a module to float64 and checks the gradient of fn(x) with respect to x and every parameter.
void gradcheck_module(Module& m, const std::function<Tensor(const Tensor&)>& fn, const Tensor& x,
                      const GradcheckOptions& options = {}) {
  m.to(DType::Float64);
  std::vector<Tensor> inputs;
  if (x.defined()) inputs.push_back(x);
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return fn(x.defined() ? in[0] : Tensor()); }, inputs,
                  options);
}

}  // namespace

TEST_CASE("Linear: names, shapes, U(-1/sqrt(in), 1/sqrt(in)) initialization and forward", "[layers]") {
  // A generator of the test's own: the statistics checked below do not depend on which tests ran before.
  Generator gen(1);
  Linear layer(400, 300, true, gen);
  CHECK(names_of(layer.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(layer.weight.shape() == Shape{300, 400});
  CHECK(layer.bias.shape() == Shape{300});
  check_uniform(layer.weight, 1 / std::sqrt(400.0));
  check_uniform(layer.bias, 1 / std::sqrt(400.0));
  Linear no_bias(3, 2, false);
  CHECK(names_of(no_bias.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(no_bias.str() == "Linear(in_features=3, out_features=2, bias=False)");
  Tensor x = randn({2, 5, 400});
  CHECK_CLOSE(layer(x), linear(x, layer.weight, layer.bias), 1e-6, 1e-6);
  CHECK_THROWS_WITH_TEXT(layer(randn({2, 3})), "expected last dim in_features = 400");
  // The same seed gives the same layer.
  Generator g1(7), g2(7);
  CHECK_CLOSE(Linear(4, 3, true, g1).weight, Linear(4, 3, true, g2).weight, 0, 0);
}

TEST_CASE("Conv2d and ConvTranspose2d: weight layouts and fan_in from weight.size(1)*kH*kW", "[layers]") {
  Generator gen(1);  // the test's own (see the Linear test)
  Conv2d conv(4, 64, {3, 5}, {.stride = 2, .padding = {1, 2}, .groups = 2}, gen);
  CHECK(conv.weight.shape() == Shape{64, 2, 3, 5});
  CHECK(conv.bias.shape() == Shape{64});
  check_uniform(conv.weight, 1 / std::sqrt(2.0 * 3 * 5));
  check_uniform(conv.bias, 1 / std::sqrt(2.0 * 3 * 5));
  CHECK(conv.str() == "Conv2d(4, 64, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), groups=2)");
  CHECK(Conv2d(1, 8, 3, {.bias = false}).str() == "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), bias=False)");
  CHECK(names_of(Conv2d(1, 8, 3, {.bias = false}).named_parameters()) == std::vector<std::string>{"weight"});

  ConvTranspose2d up(64, 6, 4, {.stride = 2, .padding = 1, .groups = 2}, gen);
  CHECK(up.weight.shape() == Shape{64, 3, 4, 4});
  check_uniform(up.weight, 1 / std::sqrt(3.0 * 4 * 4));  // fan_in = (C_out/groups)·kH·kW, as PyTorch
  for (double b : up.bias.to_vector<double>()) CHECK(std::fabs(b) <= 1 / std::sqrt(3.0 * 4 * 4));  // 6 values
  CHECK(up.str() == "ConvTranspose2d(64, 6, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), groups=2)");
  Tensor x = randn({1, 64, 3, 3});
  CHECK(up(x).shape() == Shape{1, 6, 6, 6});
  CHECK_CLOSE(up(x), conv_transpose2d(x, up.weight, up.bias, {2, 2}, {1, 1}, {0, 0}, 2), 1e-6, 1e-6);

  CHECK_THROWS_WITH_TEXT(Conv2d(3, 8, 3, {.groups = 2}), "in_channels (3) must be divisible by groups (2)");
  CHECK_THROWS_WITH_TEXT(conv(randn({1, 3, 8, 8})), "input has 3 channels");
  CHECK_THROWS_WITH_TEXT(conv(randn({4, 8, 8})), "expected a 4-D input");
  CHECK_THROWS_WITH_TEXT(ConvTranspose2d(2, 2, 3, {.stride = 2, .output_padding = 2}), "output_padding");
}

TEST_CASE("norm layers: parameters start at 1 and 0, and BatchNorm buffers as PyTorch", "[layers]") {
  BatchNorm2d bn(5);
  CHECK(names_of(bn.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(names_of(bn.named_buffers()) ==
        std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  CHECK(bn.num_batches_tracked.dtype() == DType::Int64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK_CLOSE(bn.weight, std::vector<double>(5, 1.0), 0, 0);
  CHECK_CLOSE(bn.bias, std::vector<double>(5, 0.0), 0, 0);
  CHECK_CLOSE(bn.running_mean, std::vector<double>(5, 0.0), 0, 0);
  CHECK_CLOSE(bn.running_var, std::vector<double>(5, 1.0), 0, 0);
  CHECK(bn.str() == "BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  BatchNorm1d plain(4, {.affine = false, .track_running_stats = false});
  CHECK(plain.named_parameters().empty());
  CHECK(plain.named_buffers().empty());

  LayerNorm ln({2, 3});
  CHECK(ln.weight.shape() == Shape{2, 3});
  CHECK_CLOSE(ln.weight, std::vector<double>(6, 1.0), 0, 0);
  CHECK_CLOSE(ln.bias, std::vector<double>(6, 0.0), 0, 0);
  CHECK(LayerNorm({8}).str() == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)");
  CHECK(names_of(LayerNorm({8}, 1e-5, true, false).named_parameters()) == std::vector<std::string>{"weight"});

  GroupNorm gn(2, 6);
  CHECK(names_of(gn.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(gn.str() == "GroupNorm(2, 6, eps=1e-05, affine=True)");
  CHECK_THROWS_WITH_TEXT(GroupNorm(4, 6), "num_channels (6) must be divisible by num_groups (4)");
  CHECK_THROWS_WITH_TEXT(bn(randn({2, 5, 3})), "expected 4D input (got 3D input");
  CHECK_THROWS_WITH_TEXT(bn(randn({2, 4, 3, 3})), "expected num_features = 5");
}

TEST_CASE("BatchNorm: batch statistics and running updates in training, running statistics in eval", "[layers]") {
  BatchNorm1d bn(2);
  bn.to(DType::Float64);
  Tensor x = test::f64({1, 10, 2, 20, 6, 30, 3, 40}, {4, 2});  // channel 0: 1,2,6,3; channel 1: 10,20,30,40
  Tensor y = bn(x);
  // Training: (x − mean)/√(biased var + eps); mean 3, var 3.5 for channel 0.
  CHECK(std::fabs(y[0][0].item() - (1 - 3) / std::sqrt(3.5 + 1e-5)) < 1e-9);
  CHECK(bn.num_batches_tracked.item() == 1);
  // running ← 0.9·running + 0.1·stat, with the unbiased variance (3.5·4/3 and 125·4/3).
  CHECK_CLOSE(bn.running_mean, {0.3, 2.5}, 1e-12, 0);
  CHECK_CLOSE(bn.running_var, {0.9 + 0.1 * 3.5 * 4 / 3, 0.9 + 0.1 * 125.0 * 4 / 3}, 1e-12, 0);
  bn.eval();
  Tensor z = bn(x);
  CHECK(bn.num_batches_tracked.item() == 1);  // eval does not count
  double rm = 0.3, rv = 0.9 + 0.1 * 3.5 * 4 / 3;
  CHECK(std::fabs(z[0][0].item() - (1 - rm) / std::sqrt(rv + 1e-5)) < 1e-9);

  // momentum = None: a cumulative average over batches.
  BatchNorm1d cumulative(1, {.momentum = std::nullopt});
  cumulative(tensor({1, 3}).view({2, 1}));
  cumulative(tensor({5, 7}).view({2, 1}));
  CHECK_CLOSE(cumulative.running_mean, {4.0}, 1e-6, 0);
  CHECK(cumulative.str().find("momentum=None") != std::string::npos);

  // Without running statistics, eval also normalizes with the batch.
  BatchNorm1d untracked(2, {.track_running_stats = false});
  untracked.eval();
  Tensor u = untracked(x.to(DType::Float32));
  CHECK(std::fabs(u[0][0].item() - (1 - 3) / std::sqrt(3.5 + 1e-5)) < 1e-5);
}

TEST_CASE("Dropout: scaled random zeros in training, identity in eval", "[layers]") {
  Generator g(3);
  Dropout drop(0.25, g);
  CHECK(drop.str() == "Dropout(p=0.25, inplace=False)");
  Tensor x = ones({4000});
  std::vector<double> y = drop(x).to_vector<double>();
  int64_t zeros_seen = 0;
  for (double v : y) {
    if (v == 0) ++zeros_seen;
    else CHECK(std::fabs(v - 1 / 0.75) < 1e-6);
  }
  CHECK(std::fabs(double(zeros_seen) / 4000 - 0.25) < 0.03);
  Sequential model{std::make_shared<Dropout>(0.5)};
  model.eval();
  CHECK_CLOSE(model(x), x, 0, 0);
  CHECK_THROWS_WITH_TEXT(Dropout(1.5), "between 0 and 1");
}

TEST_CASE("Embedding: N(0, 1) weights, zero padding row without gradient", "[layers]") {
  Embedding emb(1000, 20, -1);
  CHECK(emb.padding_idx == 999);
  CHECK(names_of(emb.named_parameters()) == std::vector<std::string>{"weight"});
  std::vector<double> w = emb.weight.to_vector<double>();
  double mean = 0, sq = 0;
  for (double v : w) mean += v, sq += v * v;
  mean /= double(w.size());
  CHECK(std::fabs(mean) < 0.02);
  CHECK(std::fabs(sq / double(w.size()) - 1) < 0.03);
  CHECK_CLOSE(emb.weight[999], std::vector<double>(20, 0.0), 0, 0);
  CHECK(emb.str() == "Embedding(1000, 20, padding_idx=999)");
  Tensor idx = from_vector<int64_t>({3, 999, 3}, {3}, {.dtype = DType::Int64});
  Tensor out = emb(idx);
  CHECK(out.shape() == Shape{3, 20});
  sum(out).backward();
  CHECK_CLOSE(emb.weight.grad()[999], std::vector<double>(20, 0.0), 0, 0);
  CHECK_CLOSE(emb.weight.grad()[3], std::vector<double>(20, 2.0), 0, 0);
  CHECK_THROWS_WITH_TEXT(Embedding(5, 2, 5), "padding_idx 5");
  CHECK_THROWS_WITH_TEXT(emb(tensor({1.0})), "indices must be int64");
}

TEST_CASE("pooling, upsampling and reshaping layers: defaults, shapes and reprs", "[layers]") {
  Tensor x = randn({2, 3, 8, 6});
  MaxPool2d pool(2);
  CHECK(pool.str() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(pool(x).shape() == Shape{2, 3, 4, 3});
  CHECK_CLOSE(pool(x), max_pool2d(x, {2, 2}), 0, 0);
  AvgPool2d avg(3, 1, 1);
  CHECK(avg.str() == "AvgPool2d(kernel_size=3, stride=1, padding=1)");
  CHECK(avg(x).shape() == Shape{2, 3, 8, 6});
  Upsample up(2);
  CHECK(up.str() == "Upsample(scale_factor=2.0, mode='nearest')");
  CHECK(up(x).shape() == Shape{2, 3, 16, 12});
  CHECK_CLOSE(up(x), upsample_nearest2d(x, {16, 12}), 0, 0);
  Upsample to_size(Size2{5, 7});
  CHECK(to_size(x).shape() == Shape{2, 3, 5, 7});
  CHECK(to_size.str() == "Upsample(size=(5, 7), mode='nearest')");
  CHECK(Upsample(1.5)(x).shape() == Shape{2, 3, 12, 9});

  Flatten flat;
  CHECK(flat(x).shape() == Shape{2, 144});
  CHECK(flat.str() == "Flatten(start_dim=1, end_dim=-1)");
  Unflatten unflat(1, {3, -1});
  CHECK(unflat(flat(x)).shape() == Shape{2, 3, 48});
  CHECK(unflat.str() == "Unflatten(dim=1, unflattened_size=(3, -1))");
  CHECK_THROWS_WITH_TEXT(Unflatten(1, {5, 5})(flat(x)), "does not fit dim 1 of size 144");
  CHECK_THROWS_WITH_TEXT(MaxPool2d(2, 2, 2), "at most half of kernel_size");
  CHECK_THROWS_WITH_TEXT(pool(randn({3, 8, 8})), "expected a 4-D input");
}

TEST_CASE("activation layers match the functional ops, and reprs as PyTorch", "[layers]") {
  Tensor x = randn({3, 4});
  CHECK_CLOSE(ReLU()(x), relu(x), 0, 0);
  CHECK_CLOSE(LeakyReLU(0.2)(x), leaky_relu(x, 0.2), 0, 0);
  CHECK_CLOSE(ELU()(x), elu(x), 0, 0);
  CHECK_CLOSE(GELU(GeluApproximation::Tanh)(x), gelu(x, GeluApproximation::Tanh), 0, 0);
  CHECK_CLOSE(SiLU()(x), silu(x), 0, 0);
  CHECK_CLOSE(Tanh()(x), tanh(x), 0, 0);
  CHECK_CLOSE(Sigmoid()(x), sigmoid(x), 0, 0);
  CHECK_CLOSE(Softplus(2, 10)(x), softplus(x, 2, 10), 0, 0);
  CHECK(LeakyReLU().str() == "LeakyReLU(negative_slope=0.01)");
  CHECK(ELU().str() == "ELU(alpha=1.0)");
  CHECK(GELU().str() == "GELU(approximate='none')");
  CHECK(GELU(GeluApproximation::Tanh).str() == "GELU(approximate='tanh')");
  CHECK(Softplus().str() == "Softplus(beta=1.0, threshold=20.0)");
  CHECK(Tanh().str() == "Tanh()");
  CHECK(ReLU().parameter_count() == 0);
}

TEST_CASE("gradient check through each layer's input and parameters (float64)", "[layers][gradcheck]") {
  SECTION("Linear") {
    Linear m(4, 3);
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({2, 4}, 1));
  }
  SECTION("Conv2d with stride, padding, dilation and groups") {
    Conv2d m(4, 4, 3, {.stride = 2, .padding = 1, .dilation = {1, 2}, .groups = 2});
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({1, 4, 5, 6}, 2));
  }
  SECTION("ConvTranspose2d with output_padding and groups") {
    ConvTranspose2d m(4, 2, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({1, 4, 3, 3}, 3));
  }
  SECTION("BatchNorm2d in training") {
    BatchNorm2d m(3);
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({2, 3, 2, 3}, 4));
  }
  SECTION("BatchNorm1d in eval") {
    BatchNorm1d m(3);
    m(randn({5, 3}));
    m.eval();
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({4, 3, 2}, 5));
  }
  SECTION("LayerNorm") {
    LayerNorm m({2, 3});
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({4, 2, 3}, 6));
  }
  SECTION("GroupNorm") {
    GroupNorm m(2, 4);
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({2, 4, 3}, 7));
  }
  SECTION("Embedding") {
    Embedding m(6, 3);
    Tensor idx = from_vector<int64_t>({0, 5, 2, 2, 1}, {5}, {.dtype = DType::Int64});
    gradcheck_module(m, [&](const Tensor&) { return m(idx); }, Tensor());
  }
  SECTION("pooling, upsampling and reshaping") {
    MaxPool2d max(2, 1);
    AvgPool2d avg(2, 2, 1, false);
    Upsample up(2);
    Flatten flat;
    Unflatten unflat(1, {2, -1});
    gradcheck_module(max, [&](const Tensor& x) { return unflat(flat(avg(up(max(x))))); },
                     random_input({1, 2, 4, 5}, 8));
  }
  SECTION("activations and Dropout in a Sequential") {
    Sequential m{std::make_shared<Linear>(3, 4), std::make_shared<LeakyReLU>(0.1), std::make_shared<ELU>(),
                 std::make_shared<GELU>(), std::make_shared<SiLU>(), std::make_shared<Tanh>(),
                 std::make_shared<Sigmoid>(), std::make_shared<Softplus>(), std::make_shared<Dropout>(0.3),
                 std::make_shared<ReLU>(), std::make_shared<Linear>(4, 2)};
    m.eval();  // dropout off: the finite differences need a deterministic function
    gradcheck_module(m, [&](const Tensor& x) { return m(x); }, random_input({3, 3}, 9));
  }
}
