// The image data of the image commands: an MNIST-format folder (Fashion-MNIST from Debian by default),
// or any folder of PNG/JPEG/BMP images (data/image_folder.h: center-cropped and resized, every tenth
// image held out as the test split), optionally cut to the first N training images, with pixels in
// [0, 1] or [-1, 1].
#pragma once
#include <string>
#include <vector>

#include "data/idx.h"
#include "data/image_folder.h"

namespace kiln::apps {

struct ImageData {
  data::ImageDataset train, test;
  std::string description;  // e.g. "Fashion-MNIST" or "~/faces (2,000 images, 3 skipped)"
  std::string path;          // the folder read (Fashion-MNIST's for the default)
  bool pictures = false;     // read from a folder of pictures, not from MNIST-format files
  std::vector<std::string> classes;  // a folder of pictures: label → subfolder ("" for the root); MNIST: empty
};

// dir "" = Fashion-MNIST from /usr/share/datasets/fashion-mnist. A folder without MNIST files is read as
// an image folder with `folder` options. symmetric: pixels in [-1, 1] (GANs).
ImageData load_image_data(const std::string& dir, int64_t limit, bool symmetric,
                          const data::ImageFolderOptions& folder = {});

// For the classifier: a usage check that every test label of MNIST-format data is a class of the
// (possibly --limit-ed) training split, naming the label file. Labels may go past 9 (EMNIST's do).
void check_test_labels(const ImageData& d);

// For the classifier on a folder of pictures: a check that it has one subfolder per class, at least two
// (pictures all in one folder are one class, which a classifier cannot learn anything from).
void check_picture_classes(const ImageData& d);

// Whether `dir` holds MNIST-format files (train-images-idx3-ubyte[.gz]).
bool is_mnist_folder(const std::string& dir);

}  // namespace kiln::apps
