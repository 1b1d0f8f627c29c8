// A music corpus for the sequence models: every MIDI file (.mid, .midi, also gzip-compressed) under
// the given files or folders, each turned into event tokens (data/midi_tokens.h) and concatenated in
// path order into one token stream, split into training (first 90%) and validation (last 10%) tokens.
// The default corpus is the MIDI music of Debian's planetblupi-music-midi and pianobooster packages.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::data {

inline const std::vector<std::string> kDefaultMidiPaths = {"/usr/share/planetblupi/music",
                                                           "/usr/share/doc/pianobooster"};

struct MidiCorpus {
  Tensor train;                      // int64 [n_train] event tokens
  Tensor validation;                 // int64 [n_validation]
  std::vector<std::string> files;    // the pieces read, in order
  std::vector<std::string> skipped;  // "path: why" for each MIDI file that could not be used
  int64_t tokens = 0;
};

// A MIDI file inside a folder that is corrupt or has no notes is skipped and listed with the reason; a
// single path that is such a file, a missing path, or no usable piece at all is an error naming the
// path and what is wrong (the first few reasons, and for the default the Debian packages to install).
MidiCorpus load_midi_corpus(const std::vector<std::string>& paths, double validation_fraction = 0.1);

}  // namespace kiln::data
