#include "apps/image_data.h"

#include <algorithm>
#include <filesystem>

#include "apps/data_messages.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln::apps {

bool is_mnist_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  return fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz") || fs::exists(fs::path(dir) / "train-images-idx3-ubyte");
}

namespace {

// kiln's image models take MNIST-format data as it is (a folder of pictures is resized to the size asked
// for): 28x28 grey, the size of MNIST and Fashion-MNIST.
constexpr int64_t kMnistSide = 28;

// Checks the image size of both splits before any model (or run folder) is made, naming the file.
void check_mnist_sizes(const std::string& dir, const data::ImageDataset& train, const data::ImageDataset& test) {
  const int64_t h = train.images.size(2), w = train.images.size(3);
  KILN_CHECK(h == kMnistSide && w == kMnistSide, "'", data::mnist_file(dir, "train", "images"), "' holds ", h, "x", w,
             " images; kiln's image models take ", kMnistSide, "x", kMnistSide,
             " images from MNIST-format files (a folder of pictures is resized instead)");
  KILN_CHECK(test.images.size(2) == h && test.images.size(3) == w, "'", data::mnist_file(dir, "test", "images"),
             "' holds ", test.images.size(2), "x", test.images.size(3), " images, but the training images are ", h,
             "x", w);
}

}  // namespace

ImageData load_image_data(const std::string& dir, int64_t limit, bool symmetric, const data::ImageFolderOptions& folder) {
  const std::string path = dir.empty() ? data::kFashionMnistDir : dir;
  KILN_CHECK(!std::filesystem::exists(path) || std::filesystem::is_directory(path), "data '", path,
             "' is a file, not a folder (expected an MNIST-format folder or a folder of pictures)");
  ImageData d;
  d.path = path;
  if (dir.empty() || is_mnist_folder(path) || !std::filesystem::is_directory(path)) {
    d.train = data::load_mnist_format(path, "train");
    d.test = data::load_mnist_format(path, "test");
    check_mnist_sizes(path, d.train, d.test);
    d.description = dir.empty() ? "Fashion-MNIST" : path;
  } else {
    d.pictures = true;
    data::ImageFolder f = data::load_image_folder(path, folder);
    print_skipped(f.skipped);
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
    d.classes = f.classes;
    d.description = path + " (" + counted(n, "image", "images") + ", " + std::to_string(f.skipped.size()) + " skipped)";
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

void check_test_labels(const ImageData& d) {
  if (d.pictures) return;  // a folder of pictures: both splits share its classes
  const std::vector<int64_t> train = d.train.labels.to_vector<int64_t>(), test = d.test.labels.to_vector<int64_t>();
  const int64_t classes = *std::max_element(train.begin(), train.end()) + 1;
  for (size_t i = 0; i < test.size(); ++i)
    KILN_CHECK(test[i] < classes, "'", data::mnist_file(d.path, "test", "labels"), "': label ", test[i], " of image ",
               i, " is a class no training image has (the training labels go from 0 to ", classes - 1, ")");
}

void check_picture_classes(const ImageData& d) {
  if (!d.pictures) return;  // MNIST-format data: the label files say the classes
  KILN_CHECK(d.classes.size() >= 2, "the classifier learns one class per subfolder of '", d.path, "', and it has ",
             d.classes.size(), " (", d.classes.empty() || d.classes[0].empty() ? "the pictures sit in the folder itself"
                                                                               : "'" + d.classes[0] + "'",
             "): put each class's pictures in a subfolder of its own, at least two");
}

}  // namespace kiln::apps
