// The three picture decoders behind decode_image (data/image_io.h), one per format kiln accepts, and the
// size limit they share. Each returns 8-bit pixels with 1 (grey) or 3 (RGB) channels, alpha dropped, and
// throws kiln::Error naming the file for anything damaged; none reads a file that claims too many pixels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace kiln::data {

// 64 megapixels (8192 × 8192): larger pictures are refused from their header, before any allocation.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

// Throws unless width × height is positive and at most kMaxImagePixels.
void check_image_dimensions(const std::string& name, const char* format, int64_t width, int64_t height);

// PNG through libpng: chunk CRCs and the zlib checksum are checked, 16-bit samples keep their high byte,
// palettes are expanded; grey (with or without alpha) gives 1 channel, colour 3.
Image decode_png(const std::vector<uint8_t>& bytes, const std::string& name);

// JPEG through libjpeg-turbo: every corrupt-data warning is an error; at most kMaxJpegScans scans.
// `channels` 1 asks for the luma plane (as stb_image gave); CMYK pictures are converted to RGB.
constexpr int kMaxJpegScans = 64;
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, int channels);

// BMP through stb_image built with its BMP decoder alone; gives `channels` channels.
Image decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name, int channels);

}  // namespace kiln::data
