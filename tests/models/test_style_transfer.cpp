// Style transfer: the Gram matrix, the VGG-19 layout (torchvision's names), and that both optimizers
// lower the loss while keeping pixels in [0, 1].
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
