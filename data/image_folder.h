// Image folders (torchvision's ImageFolder layout): images directly in `root`, or one subfolder per
// class (root/cat/1.png → class "cat"). PNG, JPEG, BMP, GIF, TGA, PSD and PNM files are decoded, center-
// cropped to a square and resized; files that cannot be decoded are skipped and listed.
#pragma once
#include <string>
#include <vector>

#include "data/idx.h"  // ImageDataset

namespace kiln::data {

struct ImageFolderOptions {
  int size = 64;      // output height and width
  int channels = 3;   // 1 (grey) or 3 (RGB)
};

struct ImageFolder {
  ImageDataset data;                 // images float32 [N, C, size, size] in [0, 1]; labels int64 [N]
  std::vector<std::string> classes;  // label → subfolder name ("" when the images sit in the root)
  std::vector<std::string> files;    // image i's path
  std::vector<std::string> skipped;  // "path: why" for each image file that could not be used
};

// Loads every image under `root`, sorted by path. A missing root, or one with no usable image, is an
// error naming it.
ImageFolder load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace kiln::data
