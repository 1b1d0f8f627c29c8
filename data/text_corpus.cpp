#include "data/text_corpus.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "core/utf8.h"
#include "data/file_bytes.h"
#include "data/folder_files.h"
#include "data/skipped_files.h"
#include "data/token_split.h"

namespace kiln::data {
namespace fs = std::filesystem;

int64_t first_invalid_utf8(const std::vector<uint8_t>& b) {
  size_t invalid = 0;
  for (size_t i = 0; i < b.size();) {
    if (b[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t length = utf8_sequence(b.data(), b.size(), i, invalid);
    if (length == 0) return int64_t(i);
    i += length;
  }
  return -1;
}

void TextCorpus::build_vocabulary(const std::vector<uint8_t>& text) {
  std::array<bool, 256> seen{};
  for (uint8_t c : text) seen[c] = true;
  vocabulary.clear();
  byte_to_id_.fill(-1);
  for (int c = 0; c < 256; ++c)
    if (seen[size_t(c)]) {
      byte_to_id_[size_t(c)] = int32_t(vocabulary.size());
      vocabulary.push_back(uint8_t(c));
    }
}

std::vector<int64_t> TextCorpus::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t c = uint8_t(text[i]);
    KILN_CHECK(byte_to_id_[c] >= 0, "text byte 0x", std::hex, int(c), std::dec, " at position ", i,
               " is not in the corpus vocabulary (", vocabulary.size(), " byte values)");
    ids.push_back(byte_to_id_[c]);
  }
  return ids;
}

std::string TextCorpus::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  text.reserve(ids.size());
  for (int64_t id : ids) {
    KILN_CHECK(id >= 0 && id < vocabulary_size(), "token id ", id, " is outside the vocabulary (0 to ",
               vocabulary_size() - 1, ")");
    text.push_back(char(vocabulary[size_t(id)]));
  }
  return text;
}

namespace {

// The files of a folder the corpus takes, sorted by path; fortune index files go to `index_files`, and
// what the walk left out (links to folders, unreadable folders, second names of a file) to `skipped`.
std::vector<fs::path> text_files(const fs::path& dir, std::vector<std::string>& index_files,
                                 std::vector<std::string>& skipped) {
  FolderFiles found = folder_files(dir, {.skip_hidden = true});
  skipped = std::move(found.skipped);
  std::vector<fs::path> files;
  for (const fs::path& p : found.files)
    if (p.extension() == ".dat")
      index_files.push_back(p.string());
    else
      files.push_back(p);
  return files;
}

}  // namespace

TextCorpus load_text_corpus(const std::string& path, double validation_fraction) {
  KILN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0, "text corpus: validation fraction ",
             validation_fraction, " must be in [0, 1)");
  KILN_CHECK(fs::exists(path), "text corpus '", path, "' does not exist",
             path == kFortunesDir ? " (install Debian's fortunes package, or pass --data FILE_OR_FOLDER)"
                                  : " (pass --data with a UTF-8 text file or a folder of them)");
  TextCorpus corpus;
  std::vector<uint8_t> all;
  auto take = [&](const std::string& file, std::vector<uint8_t> bytes) {
    all.insert(all.end(), bytes.begin(), bytes.end());
    corpus.files.push_back(file);
  };
  if (fs::is_directory(path)) {
    for (const fs::path& p : text_files(path, corpus.index_files, corpus.skipped)) {
      std::vector<uint8_t> bytes;
      try {
        bytes = read_file_bytes(p.string());
      } catch (const Error& e) {  // unreadable or corrupt gzip: skipped, like non-text files
        corpus.skipped.push_back(skip_reason(p.string(), e));
        continue;
      }
      const int64_t bad = first_invalid_utf8(bytes);
      if (bad >= 0)
        corpus.skipped.push_back(p.string() + ": not UTF-8 text (invalid byte sequence at offset " +
                                 std::to_string(bad) + ")");
      else
        take(p.string(), std::move(bytes));
    }
    KILN_CHECK(!corpus.files.empty(), "text corpus folder '", path, "' has no UTF-8 text files (",
               corpus.index_files.size(), " fortune index files (.dat) and ", corpus.skipped.size(),
               " other files skipped)", first_skipped(corpus.skipped));
  } else {
    std::vector<uint8_t> bytes = read_file_bytes(path);
    const int64_t bad = first_invalid_utf8(bytes);
    KILN_CHECK(bad < 0, "text file '", path, "' is not UTF-8: invalid byte sequence at offset ", bad);
    take(path, std::move(bytes));
  }
  KILN_CHECK(all.size() >= 2, "text corpus '", path, "' has ", all.size(), " bytes: too little text to train on");
  corpus.bytes = int64_t(all.size());
  corpus.build_vocabulary(all);
  std::vector<int64_t> ids(all.size());
  for (size_t i = 0; i < all.size(); ++i) ids[i] = corpus.id_of(all[i]);
  std::tie(corpus.train, corpus.validation) = split_tokens(ids, validation_fraction);
  return corpus;
}

}  // namespace kiln::data
