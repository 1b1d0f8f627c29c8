// Decoding, resizing and writing 8-bit images: PNG through libpng, JPEG through libjpeg-turbo, BMP through
// stb_image (its other decoders compiled out), resizing and PNG writing through stb (Debian's libstb-dev):
// the pixel-level layer under image folders and grids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;              // row-major, interleaved channels
};

// Decodes a PNG, JPEG or BMP file, told apart by its first bytes (not by `name`), into `channels` (1 or 3)
// channels; alpha is dropped. Any other format, a damaged file (a bad CRC or checksum, corrupt or missing
// data) and a picture over 64 megapixels throw kiln::Error naming `name` (see data/image_decoders.h).
// Safe on hostile bytes: the libFuzzer target for images calls this.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels);
Image read_image(const std::string& path, int channels);

// Crops the centered square of the shorter side and resizes it to size × size (what torchvision's
// Resize(size) followed by CenterCrop(size) gives for a square output).
Image center_crop_resize(const Image& image, int size);

// Appends the image's pixels to `out` as planar (C, H, W) floats in [0, 1]: the layout of an image tensor.
void append_planar(const Image& image, std::vector<float>& out);

// PNG bytes of an image, and an atomic PNG file.
std::vector<uint8_t> encode_png(const Image& image);
void write_png(const std::string& path, const Image& image);

}  // namespace kiln::data
