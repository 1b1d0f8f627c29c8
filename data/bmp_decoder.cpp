// BMP decoding through stb_image, compiled (data/stb_impl.cpp) with its BMP decoder alone: stb_image has
// had memory-safety bugs in most of its decoders, and kiln keeps only the one it has no library for.
#include <stb/stb_image.h>

#include <climits>
#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "core/printable.h"
#include "data/image_decoders.h"

namespace kiln::data {

Image decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  KILN_CHECK(bytes.size() <= size_t(INT_MAX), "image '", name, "' is too large (", bytes.size(), " bytes)");
  // stbi_info reads the header alone (no allocation): the size is checked before stb allocates for it.
  int width = 0, height = 0, in_file = 0;
  KILN_CHECK(stbi_info_from_memory(bytes.data(), int(bytes.size()), &width, &height, &in_file) == 1, "image '",
             name, "' is a damaged BMP file: ", printable(stbi_failure_reason() ? stbi_failure_reason() : "unreadable header"));
  // The header's height is negative for rows stored top-down, and stbi_info passes it on as it is.
  check_image_dimensions(name, "BMP", width, std::abs(int64_t(height)));
  const std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(bytes.data(), int(bytes.size()), &width, &height, &in_file, channels), stbi_image_free);
  KILN_CHECK(data != nullptr, "image '", name, "' is a damaged BMP file: ",
             printable(stbi_failure_reason() ? stbi_failure_reason() : "stb_image gave no reason"));
  Image image{width, height, channels, {}};
  image.pixels.assign(data.get(), data.get() + size_t(width) * size_t(height) * size_t(channels));
  return image;
}

}  // namespace kiln::data
