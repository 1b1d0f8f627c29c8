#include "models/vae.h"

#include "core/error.h"
#include "core/ops/ops.h"
#include "layers/layers.h"

namespace kiln::models {

ConvVAE::ConvVAE(int64_t z, int64_t c, Generator& g) : ConvVAE(ConvVaeConfig{.latent = z, .channels = c}, g) {}

ConvVAE::ConvVAE(const ConvVaeConfig& cfg, Generator& g) : Module("ConvVAE"), config(cfg), latent(cfg.latent) {
  const int64_t z = cfg.latent, c = cfg.channels, c1 = cfg.conv1, c2 = cfg.conv2, h = cfg.hidden;
  KILN_CHECK(z >= 1 && c >= 1, "ConvVAE: latent size and channels must be positive, got ", z, " and ", c);
  KILN_CHECK(c1 >= 1 && c2 >= 1 && h >= 1, "ConvVAE: widths must be positive");
  const Conv2dOptions down{.stride = 2, .padding = 1};
  const ConvTranspose2dOptions up{.stride = 2, .padding = 1};
  enc = register_module("enc", make_sequential(std::make_shared<Conv2d>(c, c1, 4, down, g), std::make_shared<ReLU>(),
                                               std::make_shared<Conv2d>(c1, c2, 4, down, g), std::make_shared<ReLU>(),
                                               std::make_shared<Flatten>(),
                                               std::make_shared<Linear>(c2 * 7 * 7, h, true, g),
                                               std::make_shared<ReLU>()));
  mu = register_module("mu", std::make_shared<Linear>(h, z, true, g));
  lv = register_module("lv", std::make_shared<Linear>(h, z, true, g));
  dec = register_module("dec", make_sequential(std::make_shared<Linear>(z, h, true, g), std::make_shared<ReLU>(),
                                               std::make_shared<Linear>(h, c2 * 7 * 7, true, g),
                                               std::make_shared<ReLU>(), std::make_shared<Unflatten>(1, Shape{c2, 7, 7}),
                                               std::make_shared<ConvTranspose2d>(c2, c1, 4, up, g),
                                               std::make_shared<ReLU>(),
                                               std::make_shared<ConvTranspose2d>(c1, c, 4, up, g)));
}

// z = μ + ε·exp(½·log σ²)
ConvVAE::Output ConvVAE::forward(const Tensor& x, const Tensor& noise) {
  KILN_CHECK(x.dim() == 4 && x.size(2) == 28 && x.size(3) == 28, "ConvVAE: images must be [N, C, 28, 28], got ",
             shape_str(x.shape()));
  Tensor h = enc->forward(x);
  Output out;
  out.mu = mu->forward(h);
  out.logvar = clamp(lv->forward(h), -30.0, 20.0);
  KILN_CHECK(noise.shape() == out.mu.shape(), "ConvVAE: noise must be [", x.size(0), ", ", latent, "], got ",
             shape_str(noise.shape()));
  out.logits = decode(add(out.mu, mul(noise, exp(mul(out.logvar, 0.5)))));
  return out;
}

Tensor ConvVAE::decode(const Tensor& z) { return dec->forward(z); }

Tensor vae_loss(const ConvVAE::Output& out, const Tensor& x) {
  return add(binary_cross_entropy_with_logits(out.logits, x, Reduction::Sum), gaussian_kl(out.mu, out.logvar));
}

}  // namespace kiln::models
