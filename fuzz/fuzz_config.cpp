// Fuzzes a run's config.json reader (apps/run_dir.cpp) and the recorded `kiln train` flags in it
// (apps/train_options.cpp's flags_from_text), as `kiln resume` reads them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "apps/run_dir.h"
#include "apps/train_options.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::apps::Config config =
        kiln::apps::config_from_json(std::string(reinterpret_cast<const char*>(data), size), "config.json");
    if (auto flags = config.find("flags"); flags != config.end()) kiln::apps::flags_from_text(flags->second);
  } catch (const kiln::Error&) {
  }
  return 0;
}
