// The image data of the image commands: an MNIST-format folder (Fashion-MNIST from Debian by default),
// optionally cut to the first N training images, with pixels scaled to [0, 1] or [-1, 1].
#pragma once
#include <string>

#include "data/idx.h"

namespace kiln::apps {

struct ImageData {
  data::ImageDataset train, test;
};

// dir "" = Fashion-MNIST from /usr/share/datasets/fashion-mnist. symmetric: pixels in [-1, 1] (GANs).
ImageData load_image_data(const std::string& dir, int64_t limit, bool symmetric);

}  // namespace kiln::apps
