#include "data/midi_corpus.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "data/folder_files.h"
#include "data/midi.h"
#include "data/midi_tokens.h"
#include "data/skipped_files.h"
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

// The event tokens of one piece. Errors name the file and say what is wrong: unreadable, corrupt, notes
// outside the time range kiln handles, or no notes at all.
std::vector<int32_t> piece_tokens(const std::string& path) {
  const MidiFile file = read_midi(path);  // its errors name the file
  std::vector<Note> notes;
  std::vector<int32_t> tokens;
  try {
    notes = midi_notes(file);
    tokens = encode_notes(notes);
  } catch (const std::exception& e) {  // kiln::Error, and std::bad_alloc for absurd files
    KILN_FAIL("MIDI file '", path, "' cannot be turned into event tokens: ", message_of(e));
  }
  KILN_CHECK(!file.tracks.empty(), "MIDI file '", path, "' has no tracks (its header says 0), so no notes");
  KILN_CHECK(!tokens.empty(), "MIDI file '", path, "' has no notes in its ", file.tracks.size(),
             file.tracks.size() == 1 ? " track" : " tracks", " (notes on the drum channel 10 are left out)");
  return tokens;
}

}  // namespace

MidiCorpus load_midi_corpus(const std::vector<std::string>& paths, double validation_fraction) {
  KILN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0, "MIDI corpus: validation fraction ",
             validation_fraction, " must be in [0, 1)");
  const bool is_default = paths == kDefaultMidiPaths;
  MidiCorpus corpus;
  std::vector<std::pair<fs::path, bool>> files;  // (path, named on its own rather than found in a folder)
  bool any_exists = false;
  for (const std::string& path : paths) {
    if (!fs::exists(path)) continue;
    any_exists = true;
    if (!fs::is_directory(path)) {
      files.emplace_back(path, true);
      continue;
    }
    FolderFiles found = folder_files(path, {.wanted = is_midi_file});
    for (const fs::path& p : found.files) files.emplace_back(p, false);
    corpus.skipped.insert(corpus.skipped.end(), found.skipped.begin(), found.skipped.end());
  }
  KILN_CHECK(any_exists, "MIDI corpus ", paths_text(paths), " does not exist",
             is_default ? " (install Debian's planetblupi-music-midi and pianobooster packages, or pass --data "
                          "with MIDI files or folders)"
                        : "");
  std::sort(files.begin(), files.end());
  std::vector<int64_t> all;
  for (const auto& [p, named] : files) {
    std::vector<int32_t> tokens;
    try {
      tokens = piece_tokens(p.string());
    } catch (const std::exception& e) {
      if (named) throw;  // a file named on its own must be good: its errors propagate
      corpus.skipped.push_back(skip_reason(p.string(), e));
      continue;
    }
    all.insert(all.end(), tokens.begin(), tokens.end());
    corpus.files.push_back(p.string());
  }
  KILN_CHECK(all.size() >= 2, "MIDI corpus ", paths_text(paths), " has no usable music (", files.size(),
             " MIDI files found, ", corpus.skipped.size(), " skipped)", first_skipped(corpus.skipped));
  corpus.tokens = int64_t(all.size());
  std::tie(corpus.train, corpus.validation) = split_tokens(all, validation_fraction);
  return corpus;
}

}  // namespace kiln::data
