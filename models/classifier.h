// The CNN classifier for Fashion-MNIST (and any 1×28×28 ten-class set): two conv–ReLU–max-pool blocks
// and an MLP, exactly the torch.nn.Sequential of shared/anchors/torch_quality.py, with the same
// parameter names ("0.weight", "3.weight", "7.weight", "9.weight", ...):
//   Conv(1→32, 3, p1) ReLU MaxPool2, Conv(32→64, 3, p1) ReLU MaxPool2, Flatten,
//   Linear(3136→128) ReLU, Linear(128→10)
// Its 128 penultimate features are what kiln's Fréchet distance for image generators is computed on.
#pragma once
#include "core/random.h"
#include "layers/sequential.h"

namespace kiln::models {

class Classifier : public Sequential {
 public:
  static constexpr int64_t kFeatures = 128;
  explicit Classifier(int64_t in_channels = 1, int64_t classes = 10, Generator& generator = default_generator());
  // The 128 features after the first Linear and its ReLU, [N, 128].
  Tensor features(const Tensor& x);
};

}  // namespace kiln::models
