// Which picture format a file holds, told by its first bytes (its "magic"), never by its name: kiln
// decodes PNG, JPEG and BMP and refuses everything else before any decoder sees the bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

enum class ImageFormat { Png, Jpeg, Bmp, Other };

// PNG: 89 'P' 'N' 'G' 0D 0A 1A 0A; JPEG: FF D8 FF (start of image, then a marker); BMP: 'B' 'M'.
ImageFormat image_format_of(const std::vector<uint8_t>& bytes);

// "PNG", "JPEG", "BMP".
const char* image_format_name(ImageFormat format);

// The first bytes of a file for a message: `50 36 0a 32 ("P6\n2")`, hex and then quoted printably.
std::string first_bytes(const std::vector<uint8_t>& bytes, size_t count = 12);

}  // namespace kiln::data
