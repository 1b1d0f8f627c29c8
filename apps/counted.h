// "1 image", "2 images": a count with its noun, for the data descriptions kiln prints.
#pragma once
#include <cstdint>
#include <string>

namespace kiln::apps {

inline std::string counted(int64_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

}  // namespace kiln::apps
