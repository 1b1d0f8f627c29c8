#include "data/image_format.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "core/printable.h"

namespace kiln::data {

namespace {

bool starts_with(const std::vector<uint8_t>& bytes, std::initializer_list<uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

}  // namespace

ImageFormat image_format_of(const std::vector<uint8_t>& bytes) {
  if (starts_with(bytes, {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a})) return ImageFormat::Png;
  if (starts_with(bytes, {0xff, 0xd8, 0xff})) return ImageFormat::Jpeg;
  if (starts_with(bytes, {'B', 'M'})) return ImageFormat::Bmp;
  return ImageFormat::Other;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Other: break;
  }
  return "unknown";
}

std::string first_bytes(const std::vector<uint8_t>& bytes, size_t count) {
  const size_t shown = std::min(count, bytes.size());
  std::string text;
  for (size_t i = 0; i < shown; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", unsigned(bytes[i]));
    if (i > 0) text += ' ';
    text += hex;
  }
  const std::string_view head(reinterpret_cast<const char*>(bytes.data()), shown);
  return text + " (\"" + printable(head) + "\")";
}

}  // namespace kiln::data
