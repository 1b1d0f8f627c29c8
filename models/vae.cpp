#include "models/vae.h"

#include "core/error.h"
#include "core/ops/ops.h"
#include "layers/layers.h"

namespace kiln::models {

ConvVAE::ConvVAE(int64_t z, int64_t c, Generator& g) : Module("ConvVAE"), latent(z) {
  KILN_CHECK(z >= 1 && c >= 1, "ConvVAE: latent size and channels must be positive, got ", z, " and ", c);
  const Conv2dOptions down{.stride = 2, .padding = 1};
  const ConvTranspose2dOptions up{.stride = 2, .padding = 1};
  enc = register_module("enc", make_sequential(std::make_shared<Conv2d>(c, 32, 4, down, g), std::make_shared<ReLU>(),
                                               std::make_shared<Conv2d>(32, 64, 4, down, g), std::make_shared<ReLU>(),
                                               std::make_shared<Flatten>(),
                                               std::make_shared<Linear>(64 * 7 * 7, 256, true, g),
                                               std::make_shared<ReLU>()));
  mu = register_module("mu", std::make_shared<Linear>(256, z, true, g));
  lv = register_module("lv", std::make_shared<Linear>(256, z, true, g));
  dec = register_module("dec", make_sequential(std::make_shared<Linear>(z, 256, true, g), std::make_shared<ReLU>(),
                                               std::make_shared<Linear>(256, 64 * 7 * 7, true, g),
                                               std::make_shared<ReLU>(), std::make_shared<Unflatten>(1, Shape{64, 7, 7}),
                                               std::make_shared<ConvTranspose2d>(64, 32, 4, up, g),
                                               std::make_shared<ReLU>(),
                                               std::make_shared<ConvTranspose2d>(32, c, 4, up, g)));
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
