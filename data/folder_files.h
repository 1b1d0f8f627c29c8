// The files under a folder that a folder loader (text, MIDI, pictures) reads, found by one walk with one
// rule for links: every entry left out for a reason the user may not expect is named with that reason
// (a folder that cannot be opened, a link to a folder, a broken link, a second name of a file already
// taken), so that nothing is skipped without a word.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

namespace kiln::data {

// The reason given for a second name of a file already taken ("PATH: a second name of 'FIRST' (a link),
// read once"): print_skipped folds a long list of them (fortune's .u8 links) into one line.
inline constexpr const char* kSecondNameReason = ": a second name of '";

struct FolderFiles {
  std::vector<std::filesystem::path> files;  // sorted by path
  std::vector<std::string> skipped;          // "path: why" for each entry left out, in path order
};

struct FolderWalk {
  // Names starting with '.' (and what is under such a folder) are left out without a word.
  bool skip_hidden = false;
  // Which files to take, by their name (the link's name for a link); others are not the loader's
  // business and are left out without a word. Empty: every file.
  std::function<bool(const std::filesystem::path&)> wanted = {};
  // For tests (root may open every folder): the error that opening `folder` gives, instead of the real one.
  std::function<std::error_code(const std::filesystem::path& folder)> open_error = {};
};

// Every wanted file under `root`, subfolders included. A link to a file is followed (the file is read
// under the link's name); a link to a folder is not entered (it could loop, or leave the folder) and is
// named; a file reached a second time (fortune's "art.u8" beside "art") is read once, and the later name
// in path order is named as skipped; a folder that cannot be opened is named and left out. `root` itself
// must be a folder that can be opened: its error is thrown, naming it.
FolderFiles folder_files(const std::filesystem::path& root, const FolderWalk& walk = {});

}  // namespace kiln::data
