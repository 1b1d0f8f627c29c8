#include "models/classifier.h"

#include "core/error.h"
#include "layers/layers.h"

namespace kiln::models {

Classifier::Classifier(int64_t in_channels, int64_t classes, Generator& g)
    : Classifier(ClassifierConfig{.in_channels = in_channels, .classes = classes}, g) {}

Classifier::Classifier(const ClassifierConfig& c, Generator& g) : config(c) {
  KILN_CHECK(c.in_channels >= 1 && c.classes >= 1 && c.conv1 >= 1 && c.conv2 >= 1 && c.features >= 1,
             "Classifier: channels, classes and widths must be positive");
  push_back(std::make_shared<Conv2d>(c.in_channels, c.conv1, 3, Conv2dOptions{.padding = 1}, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<MaxPool2d>(2));
  push_back(std::make_shared<Conv2d>(c.conv1, c.conv2, 3, Conv2dOptions{.padding = 1}, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<MaxPool2d>(2));
  push_back(std::make_shared<Flatten>());
  push_back(std::make_shared<Linear>(c.conv2 * 7 * 7, c.features, true, g));
  push_back(std::make_shared<ReLU>());
  push_back(std::make_shared<Linear>(c.features, c.classes, true, g));
}

Tensor Classifier::features(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i + 1 < size(); ++i) h = (*this)[i]->forward(h);
  return h;
}

}  // namespace kiln::models
