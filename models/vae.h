// The convolutional variational auto-encoder (Kingma & Welling, 2013) for 28×28 images, exactly the VAE
// of shared/anchors/torch_anchors.py (parameter names "enc.0.weight", "mu.weight", "lv.weight", "dec.0.weight"):
//   encoder  Conv(C→32, 4, s2, p1) ReLU Conv(32→64, 4, s2, p1) ReLU Flatten Linear(3136→256) ReLU
//            → μ = Linear(256→z), log σ² = Linear(256→z)
//   decoder  Linear(z→256) ReLU Linear(256→3136) ReLU Unflatten(64, 7, 7)
//            ConvT(64→32, 4, s2, p1) ReLU ConvT(32→C, 4, s2, p1)  → pixel logits
// The sample z = μ + σ·ε uses noise ε passed in (the reparameterization trick: gradients flow through
// μ and σ, ε is a constant), so the model itself is deterministic and testable. The widths (32, 64, 256)
// can be made smaller through ConvVaeConfig (the golden tests use a tiny one).
#pragma once
#include "core/random.h"
#include "layers/sequential.h"

namespace kiln::models {

struct ConvVaeConfig {
  int64_t latent = 32;
  int64_t channels = 1;
  int64_t conv1 = 32;    // channels of the first convolution (and of the last transposed one's input)
  int64_t conv2 = 64;    // of the second (the 7×7 feature maps)
  int64_t hidden = 256;  // width of the Linear between the feature maps and the latent code
};

class ConvVAE : public Module {
 public:
  explicit ConvVAE(int64_t latent = 32, int64_t channels = 1, Generator& generator = default_generator());
  explicit ConvVAE(const ConvVaeConfig& config, Generator& generator = default_generator());

  struct Output {
    Tensor logits;  // [N, C, 28, 28] pixel logits (sigmoid gives the reconstruction)
    Tensor mu;      // [N, latent]
    Tensor logvar;  // [N, latent], clamped to [−30, 20] so that σ stays finite
  };
  // noise: ε [N, latent] (standard normal); pass zeros for the mean reconstruction.
  Output forward(const Tensor& x, const Tensor& noise);
  Tensor decode(const Tensor& z);  // z [N, latent] → pixel logits

  const ConvVaeConfig config;
  const int64_t latent;
  std::shared_ptr<Sequential> enc, dec;
  std::shared_ptr<UnaryModule> mu, lv;
};

// The negative ELBO summed over the batch: Σ BCE(logits, x) + KL(N(μ, σ²) ‖ N(0, I)), where
// KL = −½ Σ (1 + log σ² − μ² − σ²). Divide by N for the per-image figure kiln reports.
Tensor vae_loss(const ConvVAE::Output& out, const Tensor& x);

}  // namespace kiln::models
