#include "apps/image_data.h"

#include <cstdio>
#include <filesystem>

#include "core/ops/ops.h"

namespace kiln::apps {

bool is_mnist_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  return fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz") || fs::exists(fs::path(dir) / "train-images-idx3-ubyte");
}

ImageData load_image_data(const std::string& dir, int64_t limit, bool symmetric, const data::ImageFolderOptions& folder) {
  const std::string path = dir.empty() ? data::kFashionMnistDir : dir;
  ImageData d;
  if (dir.empty() || is_mnist_folder(path) || !std::filesystem::is_directory(path)) {
    d.train = data::load_mnist_format(path, "train");
    d.test = data::load_mnist_format(path, "test");
    d.description = dir.empty() ? "Fashion-MNIST" : path;
  } else {
    data::ImageFolder f = data::load_image_folder(path, folder);
    for (const std::string& why : f.skipped) std::fprintf(stderr, "kiln: skipped %s\n", why.c_str());
    // Every tenth image (by path order) is held out.
    const int64_t n = f.data.images.size(0);
    std::vector<int64_t> train_index, test_index;
    for (int64_t i = 0; i < n; ++i) (i % 10 == 9 ? test_index : train_index).push_back(i);
    if (test_index.empty()) test_index.push_back(0);
    auto pick = [](const Tensor& t, const std::vector<int64_t>& index) {
      return index_select(t, 0, from_vector(index, {int64_t(index.size())}, {.dtype = DType::Int64}));
    };
    d.train = {pick(f.data.images, train_index), pick(f.data.labels, train_index)};
    d.test = {pick(f.data.images, test_index), pick(f.data.labels, test_index)};
    d.description = path + " (" + std::to_string(n) + " images, " + std::to_string(f.skipped.size()) + " skipped)";
  }
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
