// The wording of what kiln says about the data it reads: counts with their nouns ("1 image",
// "2 images") and the files a folder loader skipped.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/printable.h"

namespace kiln::apps {

inline std::string counted(int64_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

// "kiln: skipped: why" on stderr for each file a folder loader left out (pictures, text, MIDI); printable,
// since a file's name may hold any byte but '/' and NUL.
inline void print_skipped(const std::vector<std::string>& skipped) {
  for (const std::string& why : skipped) std::fprintf(stderr, "kiln: skipped: %s\n", printable_text(why).c_str());
}

}  // namespace kiln::apps
