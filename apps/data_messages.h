// The wording of what kiln says about the data it reads: counts with their nouns ("1 image",
// "2 images") and the files a folder loader skipped.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/printable.h"
#include "data/folder_files.h"

namespace kiln::apps {

inline std::string counted(int64_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

// The lines print_skipped writes, one for each entry left out, except that second names of files already
// read (links) are named up to kShownSecondNames, then counted: Debian's fortunes hold a .u8 link beside
// each file, and 44 lines saying so would bury the rest.
inline std::vector<std::string> skipped_lines(const std::vector<std::string>& skipped) {
  constexpr int64_t kShownSecondNames = 3;
  std::vector<std::string> lines;
  int64_t second_names = 0;
  for (const std::string& why : skipped) {
    const bool second_name = why.find(data::kSecondNameReason) != std::string::npos;
    if (second_name && ++second_names > kShownSecondNames) continue;
    lines.push_back("kiln: skipped: " + printable_text(why));
  }
  if (second_names > kShownSecondNames)
    lines.push_back("kiln: skipped: " + counted(second_names - kShownSecondNames, "more link to a file already read",
                                                "more links to files already read"));
  return lines;
}

// Writes skipped_lines on stderr: printable, since a file's name may hold any byte but '/' and NUL.
inline void print_skipped(const std::vector<std::string>& skipped) {
  for (const std::string& line : skipped_lines(skipped)) std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace kiln::apps
