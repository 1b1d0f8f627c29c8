// Text corpora for the character-level language models: the bytes of one UTF-8 file or of every text
// file of a folder (sorted by path, concatenated), a byte vocabulary (the distinct byte values that
// occur, in increasing order), and a train/validation split (the first 90% / the last 10% by default).
// The default corpus is Debian's `fortunes` package: the plain-text files of /usr/share/games/fortunes.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::data {

inline const char* kFortunesDir = "/usr/share/games/fortunes";

struct TextCorpus {
  std::vector<uint8_t> vocabulary;  // token id → byte
  Tensor train;                     // int64 [n_train] token ids
  Tensor validation;                // int64 [n_validation] token ids
  std::vector<std::string> files;   // the files read, in order
  std::vector<std::string> skipped; // "path: why" for each file of a folder that was not text
  std::vector<std::string> index_files;  // the fortune index files (*.dat) of a folder, skipped unread
  int64_t bytes = 0;

  int64_t vocabulary_size() const { return int64_t(vocabulary.size()); }
  // Token id of a byte; -1 when the byte is not in the vocabulary.
  int32_t id_of(uint8_t byte) const { return byte_to_id_[byte]; }
  // Token ids of a text (bytes outside the vocabulary are an error naming them), and back.
  std::vector<int64_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int64_t>& ids) const;

  // Sets the vocabulary to the byte values that occur in `text`.
  void build_vocabulary(const std::vector<uint8_t>& text);

 private:
  std::array<int32_t, 256> byte_to_id_{};
};

// Reads `path` (a file, or a folder searched recursively) into a corpus. In a folder, symbolic links,
// hidden files and fortune index files (*.dat, listed in `index_files`) are skipped, and so are files
// that cannot be read or are not valid UTF-8 (listed in `skipped` with the reason); a single file that
// is not valid UTF-8 is an error saying where. A missing path names the Debian package to install (for
// the default) or the --data flag.
TextCorpus load_text_corpus(const std::string& path, double validation_fraction = 0.1);

// Where the first invalid UTF-8 sequence of `bytes` starts, or -1 when all of it is valid.
int64_t first_invalid_utf8(const std::vector<uint8_t>& bytes);

}  // namespace kiln::data
