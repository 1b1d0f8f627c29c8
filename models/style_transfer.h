// Neural style transfer (Gatys, Ecker & Bethge, 2016): an image is optimized so that its features in a
// convolutional network match the content image's features at some layers and the style image's
// feature correlations (Gram matrices) at others:
//   L(x) = α·Σ_c ‖F_c(x) − F_c(content)‖²/n_c + β·Σ_s ‖G_s(x) − G_s(style)‖²/n_s,
//   G(F) = F·Fᵀ/(C·H·W) for features F reshaped to [C, H·W],
// by Adam or L-BFGS on the pixels (kept in [0, 1]). The network is any Sequential of convolutions:
// kiln's Fashion-MNIST classifier (grey images) or VGG-19's `features` (RGB, torchvision's names).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/sequential.h"

namespace kiln::models {

// A frozen feature network and the indices (into the Sequential) whose outputs are used.
struct StyleNetwork {
  std::shared_ptr<Sequential> layers;
  std::vector<size_t> content_layers, style_layers;
  int64_t channels = 3;                      // 1 or 3
  std::vector<double> mean = {0, 0, 0}, std = {1, 1, 1};  // per-channel input normalization
};

// VGG-19's convolutional part (torchvision.models.vgg19().features: names "0.weight", "2.weight", ...),
// with Gatys' layers: content conv4_2, style conv1_1 … conv5_1 (after their ReLUs), ImageNet
// normalization. Weights are loaded separately (see docs/cli.md for converting torchvision's).
StyleNetwork vgg19_style_network();
// The conv blocks of kiln's classifier (models/classifier.h) as a style network: content after the second
// ReLU, style after both ReLUs; grey images.
StyleNetwork classifier_style_network(const std::shared_ptr<Sequential>& classifier);

struct StyleOptions {
  int64_t steps = 300;
  double content_weight = 1.0;
  double style_weight = 1e6;  // with Gram matrices divided by C·H·W, as in the PyTorch tutorial
  double lr = 0.02;            // Adam's step on pixels in [0, 1]
  bool lbfgs = false;          // L-BFGS instead of Adam
};

// Returns the stylized image [1, C, H, W] in [0, 1]; content and style are [1, C, H, W] in [0, 1] on the
// network's device. `progress(step, loss)` is called every 50 steps when given.
Tensor style_transfer(const StyleNetwork& net, const Tensor& content, const Tensor& style, const StyleOptions& options,
                      const std::function<void(int64_t, double)>& progress = {});

// G = F·Fᵀ/(C·H·W) for F [1, C, H, W].
Tensor gram_matrix(const Tensor& features);

}  // namespace kiln::models
