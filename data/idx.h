// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or not, and the Fashion-MNIST data set.
// Every malformed file is reported with its name and what is wrong; nothing here aborts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::data {

// The decoded content of one IDX file: its dimensions and raw unsigned bytes (type 0x08 only,
// the type every MNIST-format image and label file uses).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

// Reads an IDX file, transparently gunzipping it. Throws kiln::Error naming the file on any problem.
IdxArray read_idx(const std::string& path);
// The same for IDX bytes already in memory (after any gunzipping); `path` is the name errors give.
IdxArray parse_idx(const std::vector<uint8_t>& raw, const std::string& path);

struct ImageDataset {
  Tensor images;  // float32 [N, 1, H, W], pixels scaled to [0, 1]
  Tensor labels;  // int64 [N]
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The path of the "images" or "labels" file of a split ("train" or "test") of an MNIST-format folder
// (the .gz file where both exist); an error naming the folder and the file when there is none.
std::string mnist_file(const std::string& dir, const std::string& split, const std::string& kind);

// Loads the "train" or "test" split of an MNIST-format folder (train-images-idx3-ubyte[.gz], ...).
// A missing folder or file names the Debian package to install and the --data flag. An empty split and
// empty images are errors naming the file. Labels are bytes, 0 to 255 (EMNIST's letters go past 9).
ImageDataset load_mnist_format(const std::string& dir, const std::string& split);

}  // namespace kiln::data
