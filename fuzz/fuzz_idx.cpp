// Fuzzes the IDX reader (MNIST-format image and label files) on bytes in memory: every input is either
// read or refused with a kiln::Error.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::data::parse_idx(std::vector<uint8_t>(data, data + size), "fuzz.idx");
  } catch (const kiln::Error&) {
  }
  return 0;
}
