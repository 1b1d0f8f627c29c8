#include "apps/output_path.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "apps/cli_args.h"

namespace kiln::apps {
namespace fs = std::filesystem;
namespace {

bool ends_with_nocase(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         std::equal(suffix.begin(), suffix.end(), text.end() - std::ptrdiff_t(suffix.size()), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

// The checks common to files and stems; `example` is a name to suggest inside a folder.
void check_path(const std::string& flag, const std::string& path, const std::string& example) {
  const std::string given = flag + " '" + path + "'";
  if (path.empty()) throw cli::UsageError(flag + ": the path is empty; give a file name such as " + example);
  const fs::path p(path);
  const std::string last = p.filename().string();
  std::error_code ec;
  if (last.empty() || last == "." || last == ".." || fs::is_directory(p, ec)) {
    const std::string folder = path.back() == '/' ? path : path + "/";
    throw cli::UsageError(given + " names a folder; give a file name such as " + folder + example);
  }
  const fs::path parent = p.parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw cli::UsageError(given + ": " + (fs::exists(parent, ec) ? "'" + parent.string() + "' is not a folder"
                                                                  : "the folder '" + parent.string() + "' does not exist"));
}

}  // namespace

void check_output_file(const std::string& flag, const std::string& path, const std::string& extension) {
  check_path(flag, path, extension.empty() ? "out.txt" : "out" + extension);
  if (!extension.empty() && !ends_with_nocase(path, extension)) {
    std::string kind = extension.substr(1);
    for (char& c : kind) c = char(std::toupper(static_cast<unsigned char>(c)));
    throw cli::UsageError(flag + " '" + path + "': kiln writes " + kind + " files; give a name ending in " + extension);
  }
}

void check_output_stem(const std::string& flag, const std::string& stem, const std::vector<std::string>& added) {
  check_path(flag, stem, "sample");
  for (const std::string& extension : added)
    if (ends_with_nocase(stem, extension))
      throw cli::UsageError(flag + " '" + stem + "': kiln adds the extension itself (.txt for text, .mid and .wav " +
                            "for music); give '" + stem.substr(0, stem.size() - extension.size()) + "'");
}

}  // namespace kiln::apps
