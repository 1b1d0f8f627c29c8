#include "data/folder_files.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/printable.h"

namespace kiln::data {
namespace fs = std::filesystem;

namespace {

// A path as it goes into a message: its bytes come from the file system (any name a user's files have).
std::string shown(const fs::path& p) { return printable(p.string(), 4096); }

struct Walker {
  const FolderWalk& walk;
  std::vector<std::pair<fs::path, std::string>> found;    // (path, "" or why it is left out)

  std::error_code open(const fs::path& folder, fs::directory_iterator& it) const {
    if (walk.open_error) {
      const std::error_code injected = walk.open_error(folder);
      if (injected) return injected;
    }
    std::error_code ec;
    it = fs::directory_iterator(folder, ec);
    return ec;
  }

  void visit(const fs::path& folder) {
    fs::directory_iterator it;
    if (const std::error_code ec = open(folder, it)) {
      found.emplace_back(folder, "a folder that cannot be opened (" + ec.message() + "), left out");
      return;
    }
    std::error_code ec;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path p = it->path();
      if (walk.skip_hidden && p.filename().string().starts_with(".")) continue;
      std::error_code kind_ec;
      const bool link = it->is_symlink(kind_ec);
      const fs::file_status target = fs::status(p, kind_ec);  // follows a link
      if (fs::is_directory(target)) {
        if (link)
          found.emplace_back(p, "a link to a folder, not followed (kiln follows links to files only)");
        else
          visit(p);
        continue;
      }
      if (walk.wanted && !walk.wanted(p)) continue;
      if (link && !fs::exists(target))
        found.emplace_back(p, "a link to '" + shown(fs::read_symlink(p, kind_ec)) + "', which does not exist");
      else if (fs::is_regular_file(target))
        found.emplace_back(p, "");
      // sockets, pipes and devices are no data files: left out as any unwanted name
    }
    if (ec) found.emplace_back(folder, "a folder that could not be read to the end (" + ec.message() + ")");
  }
};

}  // namespace

FolderFiles folder_files(const fs::path& root, const FolderWalk& walk) {
  Walker walker{walk, {}};
  fs::directory_iterator probe;
  if (const std::error_code ec = walker.open(root, probe))
    KILN_FAIL("cannot open the folder '", shown(root), "': ", ec.message());
  walker.visit(root);
  std::sort(walker.found.begin(), walker.found.end());
  FolderFiles result;
  std::map<fs::path, fs::path> taken;  // each file once: the path it really has → the name it was taken by
  for (const auto& [p, why] : walker.found) {
    if (!why.empty()) {
      result.skipped.push_back(shown(p) + ": " + why);
      continue;
    }
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(p, ec);
    if (!ec) {
      const auto [first, is_new] = taken.emplace(real, p);
      if (!is_new) {  // the first name as short as it can be: fortunes has one such link per file
        const fs::path& taken_as = first->second;
        const fs::path name = taken_as.parent_path() == p.parent_path() ? taken_as.filename() : taken_as;
        result.skipped.push_back(shown(p) + kSecondNameReason + shown(name) + "' (a link), read once");
        continue;
      }
    }
    result.files.push_back(p);
  }
  return result;
}

}  // namespace kiln::data
