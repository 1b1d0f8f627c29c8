// CUDA style transfer (what `kiln style --device cuda` runs) against the CPU from the same weights and
// images: Adam and L-BFGS, float32 (the command's dtype) and float64, on kiln's classifier (grey, as
// load_classifier moves it) and on a 3-channel network with ImageNet normalization (the VGG-19 path).
// Before that, the style loss alone as a conformance case, so that a disagreement names its op: frozen
// convolutions (only the image's gradient), ReLU, MaxPool2d, Gram matrices F·Fᵀ of one map and its
// transposed view, mse_loss, broadcast sub/div by per-channel statistics on the device.
#include <cmath>
#include <memory>

#include "core/ops/ops.h"
#include "core/random.h"
#include "cuda/conformance.h"
#include "layers/layers.h"
#include "models/classifier.h"
#include "models/style_transfer.h"

using namespace kiln;
using namespace kiln::models;
using kiln::test::random_input;
using kiln::test::Tolerance;

namespace {

// A tiny style network drawn from one seed (so every call gives the same weights), in dtype dt on `device`.
StyleNetwork tiny_network(bool rgb, DType dt, Device device) {
  Generator g(11);
  if (!rgb) {
    auto clf = std::make_shared<Classifier>(
        ClassifierConfig{.in_channels = 1, .classes = 2, .conv1 = 3, .conv2 = 4, .features = 5}, g);
    clf->to(dt);
    clf->to(device);  // the whole classifier moved first, then its conv blocks taken (apps/run_models.cpp)
    return classifier_style_network(clf);
  }
  StyleNetwork net;
  net.layers = std::make_shared<Sequential>();
  net.layers->push_back(std::make_shared<Conv2d>(3, 4, 3, Conv2dOptions{.padding = 1}, g));
  net.layers->push_back(std::make_shared<ReLU>());
  net.layers->push_back(std::make_shared<MaxPool2d>(2));
  net.layers->push_back(std::make_shared<Conv2d>(4, 5, 3, Conv2dOptions{.padding = 1}, g));
  net.layers->push_back(std::make_shared<ReLU>());
  net.layers->to(dt);
  net.layers->to(device);  // as the command does for VGG-19: net.layers->to(device)
  net.content_layers = {4};
  net.style_layers = {1, 4};
  net.channels = 3;
  net.mean = {0.485, 0.456, 0.406};
  net.std = {0.229, 0.224, 0.225};
  return net;
}

struct StyleRun {
  Tensor image;
  double last_loss = 0;
};

StyleRun run_style(bool rgb, bool lbfgs, DType dt, Device device, const Tensor& content, const Tensor& style) {
  StyleOptions o;
  o.steps = lbfgs ? 3 : 5;
  o.lbfgs = lbfgs;
  StyleRun r;
  r.image = style_transfer(tiny_network(rgb, dt, device), content.to(dt).to(device), style.to(dt).to(device), o,
                           [&](int64_t, double loss) { r.last_loss = loss; });
  return r;
}

}  // namespace

TEST_CASE("CUDA: the style loss and its image gradient match the CPU (frozen convolutions, Gram matrices)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    INFO(dtype_name(dt));
    auto input = [dt](const Shape& shape, uint64_t seed, bool requires_grad) {
      Tensor t = random_input(shape, seed, 0.1, 0.9).detach().to(dt);
      if (requires_grad) t.requires_grad_(true);
      return t;
    };
    // The image requires grad; weights, statistics and targets do not (as in style_transfer).
    std::vector<Tensor> inputs = {input({1, 3, 10, 10}, 1, true),  input({4, 3, 3, 3}, 2, false),
                                  input({4}, 3, false),             input({5, 4, 3, 3}, 4, false),
                                  input({1, 3, 1, 1}, 5, false),    input({1, 3, 1, 1}, 6, false),
                                  input({4, 4}, 7, false),          input({1, 5, 5, 5}, 8, false)};
    auto style_loss = [](const std::vector<Tensor>& v) {
      Tensor h = div(sub(v[0], v[4]), v[5]);
      Tensor f1 = relu(conv2d(h, v[1], v[2], {1, 1}, {1, 1}));
      Tensor f2 = relu(conv2d(max_pool2d(f1, {2, 2}), v[3], Tensor(), {1, 1}, {1, 1}));
      Tensor loss = add(mse_loss(f2, v[7]), mul(mse_loss(gram_matrix(f1), v[6]), 100.0));
      return std::vector<Tensor>{loss, gram_matrix(f2)};
    };
    CHECK_CUDA_MATCHES_CPU(style_loss, inputs, test::tolerance_for(dt));
  }
}

// Tolerance: a change of summation order alone (OpenBLAS on/off on the CPU) moves these very runs by up to
// 2.5e-6 (float32) and 1.8e-15 (float64) per pixel; the conformance tolerances (|cuda − cpu| ≤ atol +
// rtol·|cpu|: float32 1e-5 + 1e-4·|cpu|, float64 1e-12 + 1e-10·|cpu|, pixels in [0, 1]) leave room for
// cuDNN's and cuBLAS's own orders. Adam's first step is lr·sign(g), so a pixel whose gradient is within
// rounding of 0 could flip by 2·lr; none does at these seeds on the CPU.
TEST_CASE("CUDA style transfer matches the CPU from the same weights: Adam and L-BFGS, both dtypes", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (bool rgb : {false, true}) {
    const int64_t c = rgb ? 3 : 1;
    Generator g(rgb ? 21 : 22);
    const Tensor content = rand({1, c, 12, 12}, {.dtype = DType::Float64}, g);
    const Tensor style = rand({1, c, 12, 12}, {.dtype = DType::Float64}, g);
    for (DType dt : {DType::Float32, DType::Float64})
      for (bool lbfgs : {false, true}) {
        INFO((rgb ? "3-channel network" : "classifier") << ", " << dtype_name(dt) << ", " << (lbfgs ? "L-BFGS" : "Adam"));
        const Tolerance tol = test::tolerance_for(dt);
        StyleRun cpu = run_style(rgb, lbfgs, dt, Device::cpu(), content, style);
        StyleRun gpu = run_style(rgb, lbfgs, dt, Device::cuda(), content, style);
        CHECK(gpu.image.device() == Device::cuda());
        CHECK(gpu.image.dtype() == dt);
        // the reference moved: the pixels are not just the content image
        CHECK(amax(abs(sub(cpu.image, content.to(dt)))).item() > 1e-3);
        CHECK_CLOSE(gpu.image, cpu.image, tol.atol, tol.rtol);
        INFO("last loss: CUDA " << gpu.last_loss << ", CPU " << cpu.last_loss);
        CHECK(std::fabs(gpu.last_loss - cpu.last_loss) <= tol.atol + tol.rtol * std::fabs(cpu.last_loss));
      }
  }
}
