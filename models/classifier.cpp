#include "models/classifier.h"

#include "layers/layers.h"

namespace kiln::models {

Classifier::Classifier(int64_t in_channels, int64_t classes, Generator& g) {
  push_back(std::make_shared<Conv2d>(in_channels, 32, 3, Conv2dOptions{.padding = 1}, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<MaxPool2d>(2));
  push_back(std::make_shared<Conv2d>(32, 64, 3, Conv2dOptions{.padding = 1}, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<MaxPool2d>(2));
  push_back(std::make_shared<Flatten>());
  push_back(std::make_shared<Linear>(64 * 7 * 7, kFeatures, true, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<Linear>(kFeatures, classes, true, g));
}

Tensor Classifier::features(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i + 1 < size(); ++i) h = (*this)[i]->forward(h);
  return h;
}

}  // namespace kiln::models
