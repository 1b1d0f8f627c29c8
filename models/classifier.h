// The CNN classifier for Fashion-MNIST (and any 1×28×28 ten-class set): two conv–ReLU–max-pool blocks
// and an MLP, exactly the torch.nn.Sequential of shared/anchors/torch_quality.py, with the same
// parameter names ("0.weight", "3.weight", "7.weight", "9.weight", ...):
//   Conv(1→32, 3, p1) ReLU MaxPool2, Conv(32→64, 3, p1) ReLU MaxPool2, Flatten,
//   Linear(3136→128) ReLU, Linear(128→10)
// Its 128 penultimate features are what kiln's Fréchet distance for image generators is computed on.
// The widths (32, 64, 128) can be made smaller through ClassifierConfig (the golden tests use a tiny one).
#pragma once
#include "core/random.h"
#include "layers/sequential.h"

namespace kiln::models {

struct ClassifierConfig {
  int64_t in_channels = 1;
  int64_t classes = 10;
  int64_t conv1 = 32;      // channels of the first convolution
  int64_t conv2 = 64;      // of the second
  int64_t features = 128;  // width of the hidden Linear (the penultimate features)
};

class Classifier : public Sequential {
 public:
  static constexpr int64_t kFeatures = 128;
  explicit Classifier(int64_t in_channels = 1, int64_t classes = 10, Generator& generator = default_generator());
  explicit Classifier(const ClassifierConfig& config, Generator& generator = default_generator());
  // The features after the first Linear and its ReLU, [N, config.features] (128 by default).
  Tensor features(const Tensor& x);

  const ClassifierConfig config;
};

}  // namespace kiln::models
