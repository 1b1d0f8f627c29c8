#include "data/idx.h"

#include <filesystem>

#include "core/error.h"
#include "data/file_bytes.h"

namespace kiln::data {
namespace {

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

IdxArray read_idx(const std::string& path) { return parse_idx(read_file_bytes(path), path); }

IdxArray parse_idx(const std::vector<uint8_t>& raw, const std::string& path) {
  KILN_CHECK(raw.size() >= 4, "'", path, "' is not an IDX file: only ", raw.size(), " bytes");
  KILN_CHECK(raw[0] == 0 && raw[1] == 0, "'", path, "' is not an IDX file: the first two bytes are ", int(raw[0]), " ",
             int(raw[1]), ", expected 0 0");
  KILN_CHECK(raw[2] == 0x08, "'", path, "': IDX element type 0x", std::hex, int(raw[2]),
             " is not supported (only unsigned bytes, 0x08)");
  int ndim = raw[3];
  KILN_CHECK(ndim >= 1 && ndim <= 4, "'", path, "': IDX file has ", ndim, " dimensions, expected 1 to 4");
  KILN_CHECK(raw.size() >= size_t(4 + 4 * ndim), "'", path, "' is truncated: its header needs ", 4 + 4 * ndim,
             " bytes, the file has ", raw.size());
  IdxArray a;
  for (int d = 0; d < ndim; ++d) a.dims.push_back(big_endian_u32(&raw[4 + 4 * d]));
  // The product of the dimensions, checked at every step: four 32-bit sizes can overflow 64 bits (and
  // wrap to a small number that the size check below would accept).
  uint64_t count = 1;
  bool too_large = false;
  for (int64_t size : a.dims) too_large = too_large || __builtin_mul_overflow(count, uint64_t(size), &count) ||
                                          count > kMaxFileBytes;
  if (too_large) {
    std::string dims;
    for (int64_t size : a.dims) dims += (dims.empty() ? "" : " x ") + std::to_string(size);
    KILN_FAIL("'", path, "': IDX dimensions ", dims, " describe more than ", byte_size_text(kMaxFileBytes),
              " of data, kiln's limit for one file");
  }
  size_t header = size_t(4 + 4 * ndim);
  KILN_CHECK(raw.size() - header == count, "'", path, "' is truncated or corrupt: the header promises ", count,
             " bytes of data, the file has ", raw.size() - header);
  a.bytes.assign(raw.begin() + int64_t(header), raw.end());
  return a;
}

std::string mnist_file(const std::string& dir, const std::string& split, const std::string& kind) {
  KILN_CHECK(kind == "images" || kind == "labels", "unknown MNIST file kind '", kind, "' (images or labels)");
  const std::string stem =
      (split == "train" ? "train-" : "t10k-") + kind + (kind == "images" ? "-idx3-ubyte" : "-idx1-ubyte");
  for (const char* ext : {".gz", ""}) {
    std::filesystem::path p = std::filesystem::path(dir) / (stem + ext);
    if (std::filesystem::exists(p)) return p.string();
  }
  KILN_FAIL("data folder '", dir, "' has no ", stem, "[.gz]",
            dir == kFashionMnistDir ? " (reinstall Debian's dataset-fashion-mnist package)" : "");
}

ImageDataset load_mnist_format(const std::string& dir, const std::string& split) {
  KILN_CHECK(split == "train" || split == "test", "unknown split '", split, "' (train or test)");
  namespace fs = std::filesystem;
  KILN_CHECK(!fs::exists(dir) || fs::is_directory(dir), "data folder '", dir,
             "' is a file, not a folder (expected a folder of MNIST-format files)");
  KILN_CHECK(fs::is_directory(dir), "data folder '", dir, "' does not exist",
             dir == kFashionMnistDir ? " (install Debian's dataset-fashion-mnist package, or pass --data DIR with "
                                       "MNIST-format files)"
                                     : "");
  std::string image_path = mnist_file(dir, split, "images"), label_path = mnist_file(dir, split, "labels");
  IdxArray images = read_idx(image_path), labels = read_idx(label_path);
  KILN_CHECK(images.dims.size() == 3, "'", image_path, "' should hold images [N, H, W], it has ", images.dims.size(),
             " dims");
  KILN_CHECK(labels.dims.size() == 1, "'", label_path, "' should hold labels [N], it has ", labels.dims.size(), " dims");
  KILN_CHECK(images.dims[0] == labels.dims[0], "'", image_path, "' has ", images.dims[0], " images but '", label_path,
             "' has ", labels.dims[0], " labels");
  int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  KILN_CHECK(n > 0, "'", image_path, "' holds no images (its header says 0): the ", split, " split is empty");
  KILN_CHECK(h > 0 && w > 0, "'", image_path, "' holds images of ", h, "x", w, " pixels: empty images");
  std::vector<float> pixels(images.bytes.size());
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = float(images.bytes[i]) / 255.0f;
  std::vector<int64_t> ys(labels.bytes.begin(), labels.bytes.end());
  return {from_vector(pixels, {n, 1, h, w}), from_vector(ys, {n}, {.dtype = DType::Int64})};
}

}  // namespace kiln::data
