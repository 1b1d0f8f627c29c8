// Fuzzes the image decoder (PNG, JPEG, BMP) on bytes in memory, into grey and into RGB.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  for (int channels : {3, 1}) {
    try {
      kiln::data::decode_image(bytes, "fuzz-input", channels);
    } catch (const kiln::Error&) {
    }
  }
  return 0;
}
