// The files a folder loader skipped: why each was, and for the error raised when it skipped all of them
// the first few reasons, so that the message says what is wrong without listing a thousand files.
#pragma once
#include <exception>
#include <string>
#include <vector>

#include "core/error.h"

namespace kiln::data {

// Why the file at `path` was skipped, for `skipped` lists: the reader's message, which names the file,
// without its source location; "path: what" for an error that does not name it.
inline std::string skip_reason(const std::string& path, const std::exception& e) {
  const std::string why = message_of(e);
  return why.find(path) != std::string::npos ? why : path + ": " + why;
}

// ":\n  why a.mid was skipped\n  why b.mid was\n  and 3 more" for `skipped` (a reason each), one reason
// a line, at most `shown` of them; "" when nothing was skipped.
inline std::string first_skipped(const std::vector<std::string>& skipped, size_t shown = 5) {
  std::string text = skipped.empty() ? "" : ":";
  for (size_t i = 0; i < skipped.size() && i < shown; ++i) text += "\n  " + skipped[i];
  if (skipped.size() > shown) text += "\n  and " + std::to_string(skipped.size() - shown) + " more";
  return text;
}

}  // namespace kiln::data
