#include "core/error.h"

#include <cstring>

namespace kiln::detail {

[[noreturn]] void throw_error(const char* file, int line, const std::string& message) {
  // Only the file's base name: full build paths make messages hard to read.
  const char* base = std::strrchr(file, '/');
  throw Error(message, std::string(base ? base + 1 : file) + ":" + std::to_string(line));
}

}  // namespace kiln::detail
