#include "models/dcgan.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "layers/layers.h"

namespace kiln::models {
namespace {

void check_config(const DcganConfig& c) {
  KILN_CHECK(c.image_size == 28 || c.image_size == 64, "DCGAN: image size ", c.image_size, " (28 or 64)");
  KILN_CHECK(c.channels >= 1 && c.latent >= 1 && c.g_features >= 1 && c.d_features >= 1,
             "DCGAN: channels, latent size and feature counts must be positive");
}

std::shared_ptr<ConvTranspose2d> up(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, Generator& g) {
  return std::make_shared<ConvTranspose2d>(in, out, k, ConvTranspose2dOptions{.stride = s, .padding = p, .bias = false}, g);
}

std::shared_ptr<Conv2d> down(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, Generator& g) {
  return std::make_shared<Conv2d>(in, out, k, Conv2dOptions{.stride = s, .padding = p, .bias = false}, g);
}

}  // namespace

DcganGenerator::DcganGenerator(const DcganConfig& c, Generator& g) : UnaryModule("DcganGenerator"), config(c) {
  check_config(c);
  net = register_module("net", std::make_shared<Sequential>());
  const int64_t f = c.g_features;
  // The channel widths from the latent vector down to the image, and the first layer's kernel.
  std::vector<int64_t> widths = c.image_size == 28 ? std::vector<int64_t>{4 * f, 2 * f}
                                                   : std::vector<int64_t>{8 * f, 4 * f, 2 * f, f};
  net->push_back(up(c.latent, widths[0], c.image_size == 28 ? 7 : 4, 1, 0, g));
  net->push_back(std::make_shared<BatchNorm2d>(widths[0]));
  net->push_back(std::make_shared<ReLU>());
  for (size_t i = 1; i < widths.size(); ++i) {
    net->push_back(up(widths[i - 1], widths[i], 4, 2, 1, g));
    net->push_back(std::make_shared<BatchNorm2d>(widths[i]));
    net->push_back(std::make_shared<ReLU>());
  }
  net->push_back(up(widths.back(), c.channels, 4, 2, 1, g));
  net->push_back(std::make_shared<Tanh>());
}

Tensor DcganGenerator::forward(const Tensor& z) {
  KILN_CHECK((z.dim() == 2 || (z.dim() == 4 && z.size(2) == 1 && z.size(3) == 1)) && z.size(1) == config.latent,
             "DcganGenerator: z must be [N, ", config.latent, "] or [N, ", config.latent, ", 1, 1], got ",
             shape_str(z.shape()));
  return net->forward(z.dim() == 2 ? z.view({z.size(0), config.latent, 1, 1}) : z);
}

DcganDiscriminator::DcganDiscriminator(const DcganConfig& c, Generator& g)
    : UnaryModule("DcganDiscriminator"), config(c) {
  check_config(c);
  net = register_module("net", std::make_shared<Sequential>());
  const int64_t f = c.d_features;
  std::vector<int64_t> widths = c.image_size == 28 ? std::vector<int64_t>{f, 2 * f}
                                                   : std::vector<int64_t>{f, 2 * f, 4 * f, 8 * f};
  net->push_back(down(c.channels, widths[0], 4, 2, 1, g));
  net->push_back(std::make_shared<LeakyReLU>(0.2));
  for (size_t i = 1; i < widths.size(); ++i) {
    net->push_back(down(widths[i - 1], widths[i], 4, 2, 1, g));
    net->push_back(std::make_shared<BatchNorm2d>(widths[i]));
    net->push_back(std::make_shared<LeakyReLU>(0.2));
  }
  net->push_back(down(widths.back(), 1, c.image_size == 28 ? 7 : 4, 1, 0, g));
}

Tensor DcganDiscriminator::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(1) == config.channels && x.size(2) == config.image_size &&
                 x.size(3) == config.image_size,
             "DcganDiscriminator: images must be [N, ", config.channels, ", ", config.image_size, ", ",
             config.image_size, "], got ", shape_str(x.shape()));
  return net->forward(x).view({x.size(0)});
}

void dcgan_init(Module& module, Generator& g) {
  NoGradGuard no_grad;
  for (auto& [name, p] : module.named_parameters()) {
    const bool is_bn = p.dim() == 1;  // the only 1-d parameters of DCGAN are batch-norm weights and biases
    const bool is_bias = name.ends_with(".bias");
    if (is_bias)
      p.fill_(0.0);
    else if (is_bn)
      p.copy_(add(mul(randn(p.shape(), {.dtype = p.dtype()}, g), 0.02), 1.0).to(p.device()));
    else
      p.copy_(mul(randn(p.shape(), {.dtype = p.dtype()}, g), 0.02).to(p.device()));
  }
}

}  // namespace kiln::models
