#include "data/midi_corpus.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "data/midi.h"
#include "data/midi_tokens.h"
#include "data/token_split.h"

namespace kiln::data {
namespace fs = std::filesystem;

namespace {

bool is_midi_file(const fs::path& p) {
  std::string name = p.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* ext : {".mid", ".midi", ".mid.gz", ".midi.gz"})
    if (name.ends_with(ext)) return true;
  return false;
}

std::string paths_text(const std::vector<std::string>& paths) {
  std::string text;
  for (const std::string& p : paths) text += (text.empty() ? "'" : ", '") + p + "'";
  return text;
}

}  // namespace

MidiCorpus load_midi_corpus(const std::vector<std::string>& paths, double validation_fraction) {
  KILN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0, "MIDI corpus: validation fraction ",
             validation_fraction, " must be in [0, 1)");
  const bool is_default = paths == kDefaultMidiPaths;
  MidiCorpus corpus;
  std::vector<fs::path> files;
  bool any_exists = false;
  for (const std::string& path : paths) {
    if (!fs::exists(path)) continue;
    any_exists = true;
    if (!fs::is_directory(path)) {
      read_midi(path);  // a file named on its own must be good: its errors propagate
      files.push_back(path);
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file() && is_midi_file(it->path())) files.push_back(it->path());
  }
  KILN_CHECK(any_exists, "MIDI corpus ", paths_text(paths), " does not exist",
             is_default ? " (install Debian's planetblupi-music-midi and pianobooster packages, or pass --data "
                          "with MIDI files or folders)"
                        : "");
  std::sort(files.begin(), files.end());
  std::vector<int64_t> all;
  for (const fs::path& p : files) {
    std::vector<int32_t> tokens;
    try {
      tokens = encode_notes(midi_notes(read_midi(p.string())));
    } catch (const std::exception& e) {  // kiln::Error, and std::bad_alloc for absurd files
      corpus.skipped.push_back(p.string() + ": " + e.what());
      continue;
    }
    if (tokens.empty()) {
      corpus.skipped.push_back(p.string() + ": no notes");
      continue;
    }
    all.insert(all.end(), tokens.begin(), tokens.end());
    corpus.files.push_back(p.string());
  }
  KILN_CHECK(all.size() >= 2, "MIDI corpus ", paths_text(paths), " has no usable music (", files.size(),
             " MIDI files found, ", corpus.skipped.size(), " skipped)");
  corpus.tokens = int64_t(all.size());
  std::tie(corpus.train, corpus.validation) = split_tokens(all, validation_fraction);
  return corpus;
}

}  // namespace kiln::data
