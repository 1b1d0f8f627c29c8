// Fuzzes the text corpus reader on a one-file corpus (gzip-compressed or not): reading, the UTF-8
// check, the byte vocabulary and the train/validation split.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/text_corpus.h"
#include "fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln::fuzz::MemoryFile file;
  try {
    kiln::data::load_text_corpus(file.hold(data, size));
  } catch (const kiln::Error&) {
  }
  return 0;
}
