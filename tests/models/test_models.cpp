// The image models: output shapes, PyTorch parameter names and counts (the counts PyTorch reports for
// the same definitions in shared/anchors), the VAE's loss, and bad input.
#include "core/random.h"
#include "kiln_test.h"
#include "models/classifier.h"
#include "models/dcgan.h"
#include "models/vae.h"

using namespace kiln;
using namespace kiln::models;

namespace {

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (auto& [name, t] : m.state_dict()) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("classifier: shapes, names and parameter count", "[models]") {
  Classifier clf;
  CHECK(clf.parameter_count() == 421642);
  CHECK(names(clf) == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                                               "9.weight", "9.bias"});
  Tensor x = rand({3, 1, 28, 28});
  CHECK(clf.forward(x).shape() == Shape{3, 10});
  CHECK(clf.features(x).shape() == Shape{3, 128});
}

TEST_CASE("DCGAN 28 and 64: shapes, names, counts, init", "[models]") {
  DcganGenerator g;
  DcganDiscriminator d;
  CHECK(g.parameter_count() == 1781504);  // PyTorch's count for torch_anchors.G
  CHECK(d.parameter_count() == 138624);   // and for torch_anchors.D
  CHECK(names(g)[0] == "net.0.weight");
  CHECK(names(g)[1] == "net.1.weight");  // batch norm
  CHECK(names(d).back() == "net.5.weight");
  Tensor z = randn({2, 100});
  Tensor img = g.forward(z);
  CHECK(img.shape() == Shape{2, 1, 28, 28});
  CHECK(d.forward(img).shape() == Shape{2});

  DcganConfig big{.image_size = 64, .channels = 3, .latent = 16, .g_features = 8, .d_features = 8};
  DcganGenerator g64(big);
  DcganDiscriminator d64(big);
  Tensor img64 = g64.forward(randn({2, 16, 1, 1}));
  CHECK(img64.shape() == Shape{2, 3, 64, 64});
  CHECK(d64.forward(img64).shape() == Shape{2});

  Generator gen(5);
  dcgan_init(g, gen);
  std::vector<double> w = g.net->named_parameters()[0].second.to(DType::Float64).to_vector<double>();
  double sum = 0, sq = 0;
  for (double v : w) sum += v, sq += v * v;
  const double mean = sum / double(w.size()), std = std::sqrt(sq / double(w.size()) - mean * mean);
  CHECK(std::abs(mean) < 1e-3);
  CHECK(std::abs(std - 0.02) < 1e-3);
  CHECK_THROWS_WITH_TEXT(DcganGenerator(DcganConfig{.image_size = 32}), "image size 32 (28 or 64)");
  CHECK_THROWS_WITH_TEXT(g.forward(randn({2, 99})), "z must be [N, 100]");
  CHECK_THROWS_WITH_TEXT(d.forward(randn({2, 1, 32, 32})), "images must be [N, 1, 28, 28]");
}

TEST_CASE("conv VAE: shapes, names, count, loss = BCE + KL", "[models]") {
  ConvVAE vae;
  CHECK(vae.parameter_count() == 1700609);  // PyTorch's count for torch_anchors.VAE
  CHECK(names(vae)[0] == "enc.0.weight");
  CHECK(names(vae)[6] == "mu.weight");
  CHECK(names(vae).back() == "dec.7.bias");
  Tensor x = rand({4, 1, 28, 28});
  ConvVAE::Output out = vae.forward(x, zeros({4, 32}));
  CHECK(out.logits.shape() == Shape{4, 1, 28, 28});
  CHECK(out.mu.shape() == Shape{4, 32});
  const double expected = binary_cross_entropy_with_logits(out.logits, x, Reduction::Sum).item() +
                          gaussian_kl(out.mu, out.logvar).item();
  CHECK(std::abs(vae_loss(out, x).item() - expected) < 1e-3 * std::abs(expected));
  CHECK_THROWS_WITH_TEXT(vae.forward(x, zeros({4, 31})), "noise must be [4, 32]");
}

TEST_CASE("models: float64 gradient check through a small DCGAN discriminator", "[models][gradcheck]") {
  Generator g(3);
  DcganDiscriminator d(DcganConfig{.d_features = 2}, g);
  d.to(DType::Float64);
  d.eval();  // batch norm with running statistics: a smooth function of the input
  Tensor x = test::random_input({1, 1, 28, 28}, 11, -1.0, 1.0);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return d.forward(in[0]); }, {x});
}
