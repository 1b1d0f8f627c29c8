// Style transfer: the Gram matrix, the VGG-19 layout (torchvision's names), that both optimizers
// lower the loss while keeping pixels in [0, 1], and that a float64 network and images work (and agree
// with float32).
#include "core/random.h"
#include "kiln_test.h"
#include "layers/layers.h"
#include "models/classifier.h"
#include "models/style_transfer.h"

using namespace kiln;
using namespace kiln::models;

TEST_CASE("style transfer: Gram matrix", "[models][style]") {
  // F = [[1, 2], [3, 4]] as [1, 2, 1, 2]: G = F·Fᵀ/(2·2) = [[5, 11], [11, 25]]/4
  Tensor f = test::f64({1, 2, 3, 4}, {1, 2, 1, 2});
  CHECK_CLOSE(gram_matrix(f), std::vector<double>{1.25, 2.75, 2.75, 6.25}, 1e-15, 0.0);
  CHECK_THROWS_WITH_TEXT(gram_matrix(test::f64({1, 2}, {2, 1, 1, 1})), "features must be [1, C, H, W]");
}

TEST_CASE("style transfer: VGG-19 has torchvision's layout", "[models][style]") {
  StyleNetwork vgg = vgg19_style_network();
  CHECK(vgg.layers->size() == 37);
  auto names = vgg.layers->state_dict();
  CHECK(names.size() == 32);  // 16 convolutions × (weight, bias)
  CHECK(names[0].first == "0.weight");
  CHECK(names.back().first == "34.bias");
  CHECK(vgg.layers->parameter_count() == 20024384);  // torchvision's vgg19().features
}

TEST_CASE("style transfer: Adam and L-BFGS lower the loss, pixels stay in [0, 1]", "[models][style]") {
  Generator g(4);
  auto clf = std::make_shared<Classifier>(1, 10, g);
  StyleNetwork net = classifier_style_network(clf);
  Tensor content = rand({1, 1, 16, 16}, {}, g), style = rand({1, 1, 16, 16}, {}, g);
  for (bool lbfgs : {false, true}) {
    INFO((lbfgs ? "L-BFGS" : "Adam"));
    std::vector<double> losses;
    StyleOptions options;
    options.steps = 100;
    options.lbfgs = lbfgs;
    Tensor out = style_transfer(net, content, style, options, [&](int64_t, double loss) { losses.push_back(loss); });
    REQUIRE(losses.size() == 2);
    CHECK(losses.back() < losses.front());
    CHECK(out.shape() == content.shape());
    CHECK(amin(out).item() >= 0.0);
    CHECK(amax(out).item() <= 1.0);
  }
  CHECK_THROWS_WITH_TEXT(style_transfer(net, rand({1, 3, 8, 8}), style, {}), "content and style must be [1, 1, H, W]");
}

TEST_CASE("style transfer: float64 images and network run, and agree with float32", "[models][style]") {
  // The normalization statistics take the image's dtype (a float32 default made float64 throw a dtype
  // mismatch). float32 stays within 1.6e-6 of float64 here (measured over 5 seeds, both optimizers).
  for (bool lbfgs : {false, true}) {
    INFO((lbfgs ? "L-BFGS" : "Adam"));
    std::vector<Tensor> images;
    for (DType dt : {DType::Float64, DType::Float32}) {
      Generator g(4);
      auto clf = std::make_shared<Classifier>(
          ClassifierConfig{.in_channels = 1, .classes = 2, .conv1 = 3, .conv2 = 4, .features = 5}, g);
      clf->to(dt);
      Tensor content = rand({1, 1, 12, 12}, {}, g).to(dt), style = rand({1, 1, 12, 12}, {}, g).to(dt);
      StyleOptions options;
      options.steps = lbfgs ? 3 : 5;
      options.lbfgs = lbfgs;
      images.push_back(style_transfer(classifier_style_network(clf), content, style, options));
      CHECK(images.back().dtype() == dt);
      CHECK(amax(abs(sub(images.back(), content))).item() > 1e-3);  // the pixels moved
    }
    CHECK_CLOSE(images[1], images[0], 1e-5, 0.0);
  }
}
