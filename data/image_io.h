// Decoding, resizing and writing 8-bit images (through stb_image, stb_image_resize and
// stb_image_write, from Debian's libstb-dev): the pixel-level layer under image folders and grids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;              // row-major, interleaved channels
};

// Decodes PNG, JPEG, BMP (and the other formats stb_image reads) into `channels` (1 or 3) channels.
// A file that cannot be decoded throws kiln::Error naming `name` and the decoder's reason.
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
