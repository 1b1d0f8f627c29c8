// The foundation's demo job: a two-layer perceptron trained on Fashion-MNIST with plain kiln ops
// (linear, relu, cross_entropy, autograd) and a hand-written SGD-with-momentum update.
// The generator models and the full `kiln train <model>` arrive with the layers and models issues.
#pragma once
#include <cstdint>
#include <string>

namespace kiln::apps {

struct MlpConfig {
  std::string data_dir;
  int64_t epochs = 5;
  int64_t batch = 128;
  int64_t hidden = 256;
  double lr = 0.05;
  double momentum = 0.9;
  uint64_t seed = 0;
  int64_t limit = 0;  // train on at most this many images (0: all), for quick runs
};

// Trains and prints a progress line per epoch; returns the final test accuracy in [0, 1].
double train_mlp(const MlpConfig& config);

}  // namespace kiln::apps
