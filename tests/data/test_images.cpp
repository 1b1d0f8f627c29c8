// Images: PNG encode/decode, center crop + resize, image folders with classes and bad files, grids.
#include <filesystem>
#include <fstream>

#include "core/serialization/atomic_file.h"
#include "data/image_folder.h"
#include "data/image_grid.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_dir("images", name); }

// A w×h RGB image whose pixel (x, y) is (10x, 10y, 7).
Image ramp(int w, int h) {
  Image im{w, h, 3, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.pixels.insert(im.pixels.end(), {uint8_t(10 * x), uint8_t(10 * y), 7});
  return im;
}

}  // namespace

TEST_CASE("images: PNG round trip, grey conversion and center crop", "[data][images]") {
  Image im = ramp(4, 2);
  Image back = decode_image(encode_png(im), "ramp.png", 3);
  CHECK((back.width == 4 && back.height == 2 && back.pixels == im.pixels));
  Image grey = decode_image(encode_png(im), "ramp.png", 1);
  CHECK((grey.channels == 1 && grey.pixels.size() == 8));
  Image crop = center_crop_resize(im, 2);  // the centered 2×2 square, unchanged in size
  CHECK(crop.pixels == std::vector<uint8_t>{10, 0, 7, 20, 0, 7, 10, 10, 7, 20, 10, 7});
  CHECK_THROWS_WITH_TEXT(decode_image({1, 2, 3, 4}, "junk.png", 3), "image 'junk.png' is not a PNG, JPEG or BMP file");
  CHECK_THROWS_WITH_TEXT(decode_image({}, "empty.png", 3), "image 'empty.png' is empty");
}

TEST_CASE("image folder: classes from subfolders, bad images skipped and listed", "[data][images]") {
  fs::path root = fresh_dir("classes");
  fs::create_directories(root / "boots");
  fs::create_directories(root / "shirts");
  write_png((root / "boots" / "a.png").string(), ramp(6, 4));
  write_png((root / "shirts" / "b.png").string(), ramp(4, 4));
  write_png((root / "shirts" / "c.png").string(), ramp(4, 6));
  std::ofstream(root / "shirts" / "broken.png") << "not a png";
  std::ofstream(root / "notes.txt") << "ignored";
  ImageFolder f = load_image_folder(root.string(), {.size = 4, .channels = 3});
  CHECK(f.classes == std::vector<std::string>{"boots", "shirts"});
  CHECK(f.data.images.shape() == Shape{3, 3, 4, 4});
  CHECK(f.data.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1});
  REQUIRE(f.skipped.size() == 1);
  CHECK(f.skipped[0].find("broken.png") != std::string::npos);
  // Image b is 4×4: no resampling; channel 0 of pixel (x=1, y=0) is 10/255, channel 2 is 7/255.
  std::vector<float> px = f.data.images.to_vector<float>();
  CHECK(std::abs(px[size_t(48 + 1)] - 10.0f / 255.0f) < 1e-7f);
  CHECK(std::abs(px[size_t(48 + 2 * 16)] - 7.0f / 255.0f) < 1e-7f);

  fs::path empty = fresh_dir("empty");
  std::ofstream(empty / "x.png") << "garbage";
  CHECK_THROWS_WITH_TEXT(load_image_folder(empty.string()), "has no usable images (1 image files found, 1 could not");
  // With nothing usable, the message names the first few files and why each was skipped.
  for (char i = '0'; i < '6'; ++i) std::ofstream(empty / (std::string("y") + i + ".png")) << "garbage";
  std::string first = "(7 image files found, 7 could not be decoded):\n  ";
  first += "image '";
  first += (empty / "x.png").string();
  first += "' is not a PNG, JPEG or BMP file";
  CHECK_THROWS_WITH_TEXT(load_image_folder(empty.string()), first);
  CHECK_THROWS_WITH_TEXT(load_image_folder(empty.string()), "y3.png' is not a PNG, JPEG or BMP file");
  CHECK_THROWS_WITH_TEXT(load_image_folder(empty.string()), "\n  and 2 more");
  CHECK_THROWS_WITH_TEXT(load_image_folder((empty / "x.png").string()), "x.png' is a file, not a folder");
  CHECK_THROWS_WITH_TEXT(load_image_folder("/nonexistent/kiln-images"), "'/nonexistent/kiln-images' does not exist");
}

TEST_CASE("image grid: tiles with padding and value range", "[data][images]") {
  // Three 1×2×2 images with values 0, 0.5 and 1; two per row, padding 1.
  Tensor x = from_vector(std::vector<float>{0, 0, 0, 0, .5f, .5f, .5f, .5f, 1, 1, 1, 1}, {3, 1, 2, 2});
  Image g = make_grid(x, {.nrow = 2, .padding = 1, .pad_value = 9});
  CHECK((g.width == 7 && g.height == 7 && g.channels == 1));
  auto at = [&](int xx, int y) { return int(g.pixels[size_t(y * 7 + xx)]); };
  CHECK(at(0, 0) == 9);
  CHECK(at(1, 1) == 0);
  CHECK(at(4, 2) == 128);
  CHECK(at(1, 4) == 255);
  CHECK(at(4, 4) == 9);  // no fourth image
  Image signed_range = make_grid(x, {.nrow = 2, .padding = 1, .low = -1.0, .high = 1.0});
  CHECK(int(signed_range.pixels[size_t(1 * 7 + 1)]) == 128);
  CHECK_THROWS_WITH_TEXT(make_grid(zeros({2, 2, 4, 4})), "C = 1 or 3");
}
