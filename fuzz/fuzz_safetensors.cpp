// Fuzzes the safetensors reader (model and weights files) on a file in memory.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/serialization/safetensors.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln::fuzz::MemoryFile file;
  try {
    kiln::load_safetensors(file.hold(data, size));
  } catch (const kiln::Error&) {
  }
  return 0;
}
