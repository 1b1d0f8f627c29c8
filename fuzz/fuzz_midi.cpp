// Fuzzes the Standard MIDI File reader and what the music corpus does with a file it read: its tempo
// map, its notes and their event tokens (data/midi_corpus.cpp's piece_tokens, in memory).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "data/midi.h"
#include "data/midi_tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::data::MidiFile file = kiln::data::parse_midi(std::vector<uint8_t>(data, data + size), "fuzz.mid");
    const std::vector<int32_t> tokens = kiln::data::encode_notes(kiln::data::midi_notes(file));
    kiln::data::decode_tokens(tokens);
  } catch (const kiln::Error&) {
  }
  return 0;
}
