// Fuzzes the checkpoint reader on a file in memory: the safetensors layer, the kiln metadata and the
// checksums. (Inputs rarely get past the CRC checks: seed with valid checkpoints, see README.md.)
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/serialization/checkpoint.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln::fuzz::MemoryFile file;
  try {
    kiln::load_checkpoint(file.hold(data, size));
  } catch (const kiln::Error&) {
  }
  return 0;
}
