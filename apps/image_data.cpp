#include "apps/image_data.h"

#include "core/ops/ops.h"

namespace kiln::apps {

ImageData load_image_data(const std::string& dir, int64_t limit, bool symmetric) {
  const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
  ImageData d{data::load_mnist_format(folder, "train"), data::load_mnist_format(folder, "test")};
  if (limit > 0 && limit < d.train.images.size(0)) {
    d.train.images = d.train.images.narrow(0, 0, limit).contiguous();
    d.train.labels = d.train.labels.narrow(0, 0, limit).contiguous();
  }
  if (symmetric) {  // x ↦ 2x − 1
    d.train.images = add(mul(d.train.images, 2.0), -1.0);
    d.test.images = add(mul(d.test.images, 2.0), -1.0);
  }
  return d;
}

}  // namespace kiln::apps
