// The folder walk of the text, MIDI and picture loaders: links to files followed, every entry left out
// (a link to a folder, a broken link, a second name of a file, a folder that cannot be opened) named.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "apps/data_messages.h"
#include "data/folder_files.h"
#include "data/image_folder.h"
#include "data/midi_corpus.h"
#include "data/text_corpus.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_dir("folder_files", name); }

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// The one reason in `skipped` that names `path`, or "" when none does.
std::string reason_for(const std::vector<std::string>& skipped, const fs::path& path) {
  const std::string prefix = path.string() + ": ";
  for (const std::string& why : skipped)
    if (why.rfind(prefix, 0) == 0) return why.substr(prefix.size());
  return "";
}

}  // namespace

TEST_CASE("folder files: a link to a file is followed, every other link named", "[data][folder_files]") {
  const fs::path dir = fresh_dir("links"), outside = fresh_dir("links_target");
  write(dir / "a.txt", "a");
  write(outside / "b.txt", "b");
  fs::create_directories(outside / "sub");
  write(outside / "sub" / "c.txt", "c");
  fs::create_symlink(outside / "b.txt", dir / "b.txt");        // a file elsewhere: followed
  fs::create_symlink(dir / "a.txt", dir / "a2.txt");           // a second name of a.txt: read once
  fs::create_symlink(outside / "sub", dir / "sub");            // a folder: not entered
  fs::create_symlink(dir / "missing.txt", dir / "broken.txt");  // nothing behind it
  const FolderFiles found = folder_files(dir);
  CHECK(found.files == std::vector<fs::path>{dir / "a.txt", dir / "b.txt"});
  REQUIRE(found.skipped.size() == 3);
  CHECK(reason_for(found.skipped, dir / "a2.txt") == "a second name of 'a.txt' (a link), read once");
  CHECK(reason_for(found.skipped, dir / "sub") ==
        "a link to a folder, not followed (kiln follows links to files only)");
  CHECK(reason_for(found.skipped, dir / "broken.txt") ==
        "a link to '" + (dir / "missing.txt").string() + "', which does not exist");
}

TEST_CASE("folder files: a second name in another folder is shown with its whole path", "[data][folder_files]") {
  const fs::path dir = fresh_dir("second_name");
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  write(dir / "a" / "x.txt", "x");
  fs::create_symlink(dir / "a" / "x.txt", dir / "b" / "y.txt");
  const FolderFiles found = folder_files(dir);
  CHECK(found.files == std::vector<fs::path>{dir / "a" / "x.txt"});
  CHECK(found.skipped == std::vector<std::string>{(dir / "b" / "y.txt").string() + ": a second name of '" +
                                                  (dir / "a" / "x.txt").string() + "' (a link), read once"});
}

TEST_CASE("folder files: unwanted and hidden names are left out without a word", "[data][folder_files]") {
  const fs::path dir = fresh_dir("wanted");
  fs::create_directories(dir / ".git");
  write(dir / ".git" / "x.txt", "x");
  write(dir / ".hidden.txt", "h");
  write(dir / "a.txt", "a");
  write(dir / "notes.md", "n");
  fs::create_symlink(dir / "gone.md", dir / "broken.md");  // not wanted, so not worth a word either
  const FolderFiles found = folder_files(dir, {.skip_hidden = true, .wanted = [](const fs::path& p) {
                                                 return p.extension() == ".txt";
                                               }});
  CHECK(found.files == std::vector<fs::path>{dir / "a.txt"});
  CHECK(found.skipped.empty());
}

TEST_CASE("folder files: a subfolder that cannot be opened is named and left out", "[data][folder_files]") {
  const fs::path dir = fresh_dir("unreadable");
  fs::create_directories(dir / "locked");
  write(dir / "locked" / "x.txt", "x");
  write(dir / "a.txt", "a");
  // Root opens every folder whatever its permissions (CI runs as root): there the error is injected, as
  // the file system would give it; as anyone else the real permissions are tested too.
  FolderWalk walk;
  if (::geteuid() == 0) {
    walk.open_error = [&](const fs::path& folder) {
      return folder == dir / "locked" ? std::make_error_code(std::errc::permission_denied) : std::error_code();
    };
  } else {
    fs::permissions(dir / "locked", fs::perms::none);
  }
  const FolderFiles found = folder_files(dir, walk);
  fs::permissions(dir / "locked", fs::perms::owner_all);  // so that the next run can remove it
  CHECK(found.files == std::vector<fs::path>{dir / "a.txt"});
  REQUIRE(found.skipped.size() == 1);
  CHECK(reason_for(found.skipped, dir / "locked") == "a folder that cannot be opened (Permission denied), left out");
  // The folder named itself must open: its error is the loader's error.
  walk.open_error = [](const fs::path&) { return std::make_error_code(std::errc::permission_denied); };
  CHECK_THROWS_WITH_TEXT(folder_files(dir, walk), "cannot open the folder '" + dir.string() + "': Permission denied");
}

TEST_CASE("folder files: the text, MIDI and picture loaders name what the walk left out", "[data][folder_files]") {
  const fs::path dir = fresh_dir("loaders"), outside = fresh_dir("loaders_target");
  fs::create_directories(outside / "more");
  fs::create_symlink(outside / "more", dir / "more");  // it could hold any kind of file: named by every loader
  const std::string why = (dir / "more").string() + ": a link to a folder, not followed";
  write(dir / "a.txt", "hello, world\n");
  const TextCorpus text = load_text_corpus(dir.string());
  REQUIRE(text.skipped.size() == 1);
  CHECK(text.skipped[0].rfind(why, 0) == 0);
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({dir.string()}), "(0 MIDI files found, 1 skipped):\n  " + why);
  CHECK_THROWS_WITH_TEXT(load_image_folder(dir.string()), "1 other entries left out):\n  " + why);
}

TEST_CASE("skipped entries: a long list of second names is counted after the first three", "[data][folder_files]") {
  std::vector<std::string> skipped = {"/d/broken: a broken link"};
  for (int i = 0; i < 5; ++i)
    skipped.push_back("/d/f" + std::to_string(i) + ".u8" + kSecondNameReason + "f" + std::to_string(i) +
                      "' (a link), read once");
  skipped.push_back("/d/\x1b[2J: a folder that cannot be opened");
  const std::vector<std::string> lines = apps::skipped_lines(skipped);
  REQUIRE(lines.size() == 6);  // the broken link, three second names, the folder, the count
  CHECK(lines[0] == "kiln: skipped: /d/broken: a broken link");
  CHECK(lines[3] == "kiln: skipped: /d/f2.u8: a second name of 'f2' (a link), read once");
  CHECK(lines[4] == "kiln: skipped: /d/\\x1b[2J: a folder that cannot be opened");
  CHECK(lines[5] == "kiln: skipped: 2 more links to files already read");
}
