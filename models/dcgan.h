// DCGAN (Radford, Metz & Chintala, 2015): a generator of transposed convolutions with batch norm and
// ReLU ending in tanh (images in [-1, 1]), and a discriminator of strided convolutions with leaky ReLU
// (slope 0.2) and batch norm, returning one logit per image. Two sizes:
//   28×28: G = ConvT(z→4g, 7) BN ReLU, ConvT(4g→2g, 4, s2, p1) BN ReLU, ConvT(2g→C, 4, s2, p1) tanh
//          D = Conv(C→d, 4, s2, p1) LReLU, Conv(d→2d, 4, s2, p1) BN LReLU, Conv(2d→1, 7)
//          (exactly the G and D of shared/anchors/torch_anchors.py, same parameter names "net.0.weight", ...)
//   64×64: the paper's network, G = ConvT(z→8g, 4) then four ×2 up-steps, D the mirror image.
// Convolutions have no bias (batch norm follows them), as in the reference implementation.
#pragma once
#include "core/random.h"
#include "layers/sequential.h"

namespace kiln::models {

struct DcganConfig {
  int64_t image_size = 28;  // 28 or 64
  int64_t channels = 1;
  int64_t latent = 100;     // z dimension
  int64_t g_features = 64;  // g in the table above
  int64_t d_features = 64;  // d
};

class DcganGenerator : public UnaryModule {
 public:
  explicit DcganGenerator(const DcganConfig& config = {}, Generator& generator = default_generator());
  // z [N, latent] or [N, latent, 1, 1] → images [N, C, S, S] in [-1, 1].
  Tensor forward(const Tensor& z) override;
  const DcganConfig config;
  std::shared_ptr<Sequential> net;
};

class DcganDiscriminator : public UnaryModule {
 public:
  explicit DcganDiscriminator(const DcganConfig& config = {}, Generator& generator = default_generator());
  // images [N, C, S, S] → logits [N] (real: high).
  Tensor forward(const Tensor& x) override;
  const DcganConfig config;
  std::shared_ptr<Sequential> net;
};

// The paper's initialization: convolution weights ~ N(0, 0.02²), batch-norm weights ~ N(1, 0.02²) and
// biases 0. (PyTorch's default initialization is what the modules start with.)
void dcgan_init(Module& module, Generator& generator = default_generator());

}  // namespace kiln::models
