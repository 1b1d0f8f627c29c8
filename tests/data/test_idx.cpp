// IDX reading: good files (plain and gzip), and every kind of bad file reported by name.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/idx.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "kiln_test_idx";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
}

// A 2×2×3 IDX image file and its 2 labels.
std::vector<uint8_t> images_2x2x3() { return {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6}; }
std::vector<uint8_t> labels_2() { return {0, 0, 8, 1, 0, 0, 0, 2, 7, 3}; }

}  // namespace

TEST_CASE("IDX files are read plain and gzip-compressed", "[data]") {
  for (bool gz : {false, true}) {
    std::string p = temp_path(gz ? "a.idx.gz" : "a.idx");
    write_bytes(p, images_2x2x3(), gz);
    data::IdxArray a = data::read_idx(p);
    CHECK(a.dims == std::vector<int64_t>{2, 2, 3});
    REQUIRE(a.bytes.size() == 12);
    CHECK(a.bytes[1] == 51);
  }
}

TEST_CASE("an MNIST-format folder loads as scaled images and int64 labels", "[data]") {
  std::string dir = temp_path("mnist");
  std::filesystem::create_directories(dir);
  write_bytes(dir + "/t10k-images-idx3-ubyte.gz", images_2x2x3(), true);
  write_bytes(dir + "/t10k-labels-idx1-ubyte", labels_2(), false);
  data::ImageDataset d = data::load_mnist_format(dir, "test");
  CHECK(d.images.shape() == Shape{2, 1, 2, 3});
  CHECK_CLOSE(d.images.select(0, 0).flatten(), {0, 0.2, 0.4, 0.6, 0.8, 1.0}, 1e-6, 0);
  CHECK(d.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 3});
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(dir, "train"), "has no train-images-idx3-ubyte");
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(dir + "/nope", "test"), "does not exist");
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(data::kFashionMnistDir + std::string("-missing"), "test"),
                         "does not exist");
}

TEST_CASE("bad IDX files are reported with their name and the problem", "[data]") {
  std::string p = temp_path("bad.idx");
  CHECK_THROWS_WITH_TEXT(data::read_idx(temp_path("missing.idx")), "cannot open");
  write_bytes(p, {0x3c, 0x68, 0x74, 0x6d, 0x6c}, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "is not an IDX file");
  write_bytes(p, {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "element type 0xd is not supported");
  std::vector<uint8_t> truncated = images_2x2x3();
  truncated.resize(truncated.size() - 3);
  write_bytes(p, truncated, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "truncated or corrupt");
  write_bytes(p, {0, 0, 8, 3, 0, 0}, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "header needs 16 bytes");
  // a gzip file cut in the middle
  std::string gz = temp_path("cut.idx.gz");
  std::vector<uint8_t> big(4000, 7);
  big[0] = 0, big[1] = 0, big[2] = 8, big[3] = 1, big[4] = 0, big[5] = 0, big[6] = 0x0F, big[7] = 0x98;
  write_bytes(gz, big, true);
  auto size = std::filesystem::file_size(gz);
  std::filesystem::resize_file(gz, size / 2);
  CHECK_THROWS_AS(data::read_idx(gz), Error);
}

TEST_CASE("Debian's Fashion-MNIST loads when installed", "[data]") {
  if (!std::filesystem::exists(data::kFashionMnistDir)) {
    WARN("dataset-fashion-mnist not installed: skipped");
    return;
  }
  data::ImageDataset test = data::load_mnist_format(data::kFashionMnistDir, "test");
  CHECK(test.images.shape() == Shape{10000, 1, 28, 28});
  std::vector<int64_t> labels = test.labels.to_vector<int64_t>();
  CHECK(*std::max_element(labels.begin(), labels.end()) == 9);
  CHECK(*std::min_element(labels.begin(), labels.end()) == 0);
}

TEST_CASE("IDX: dimensions whose product overflows are refused, not wrapped", "[data]") {
  // 65536 x 262144 x 2^30 = 2^64, which wraps to 0 in 64 bits and matched a file with no data.
  std::string p = temp_path("overflow.idx");
  write_bytes(p, {0, 0, 8, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0x40, 0, 0, 0}, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "'" + p + "': IDX dimensions 65536 x 262144 x 1073741824 describe more "
                                            "than 2 GiB of data, kiln's limit for one file");
  write_bytes(p, {0, 0, 8, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, false);
  CHECK_THROWS_WITH_TEXT(data::read_idx(p), "describe more than 2 GiB");
}

TEST_CASE("MNIST-format folders: empty splits and empty images name the file", "[data]") {
  namespace fs = std::filesystem;
  std::string dir = temp_path("mnist_bad");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string images = dir + "/t10k-images-idx3-ubyte", labels = dir + "/t10k-labels-idx1-ubyte";
  // No images at all (N = 0 in both files): the classifier failed later in "amax" without a file name.
  write_bytes(images, {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28}, false);
  write_bytes(labels, {0, 0, 8, 1, 0, 0, 0, 0}, false);
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(dir, "test"), "'" + images + "' holds no images (its header says 0): "
                                                                "the test split is empty");
  write_bytes(images, {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}, false);
  write_bytes(labels, labels_2(), false);
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(dir, "test"), "holds images of 0x0 pixels");
  write_bytes(images, images_2x2x3(), false);
  write_bytes(labels, labels_2(), false);
  CHECK(data::load_mnist_format(dir, "test").labels.to_vector<int64_t>() == std::vector<int64_t>{7, 3});
  CHECK_THROWS_WITH_TEXT(data::load_mnist_format(images, "test"), "data folder '" + images +
                                                                      "' is a file, not a folder");
}
