// Music as a token sequence, for the sequence models (char-RNN, GPT) that generate it: the notes of a
// MIDI file become a stream of performance events, and a generated stream becomes a MIDI file again.
//
// The event vocabulary (in the style of Oore et al., "This time with feeling", 2018), 388 tokens:
//   0–127    note-on of pitch p          128–255  note-off of pitch p
//   256–355  time shift of 1…100 steps of 10 ms (longer gaps use several)
//   356–387  set velocity: 32 buckets of 4 MIDI velocities (1–127), applying to the following note-ons
// Times are quantized to the 10 ms grid without drift (each event goes to the step nearest its absolute
// time); a gap between events longer than 3 s is shortened to 3 s. Drum tracks (MIDI channel 10) are left out by
// default.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/midi.h"

namespace kiln::data {

struct Note {
  int pitch = 60;      // 0–127, 60 = middle C
  int velocity = 64;   // 1–127
  double start = 0.0;  // seconds
  double end = 0.0;    // seconds, ≥ start
  int channel = 0;
};

// The notes of a file in start-time order (ties: lower pitch first). A note-on with velocity 0 counts as
// a note-off; a note still sounding at the end of its track ends at the track's last event.
std::vector<Note> midi_notes(const MidiFile& file, bool include_drums = false);

// One track of piano notes (program 0, channel 0) at 120 bpm with 480 ticks per quarter, format 0.
MidiFile notes_to_midi(const std::vector<Note>& notes);

namespace midi_tokens {
constexpr int kNoteOn = 0;
constexpr int kNoteOff = 128;
constexpr int kTimeShift = 256;
constexpr int kTimeShiftSteps = 100;
constexpr int kVelocity = kTimeShift + kTimeShiftSteps;
constexpr int kVelocityBuckets = 32;
constexpr int kVocabularySize = kVelocity + kVelocityBuckets;  // 388
constexpr double kStepSeconds = 0.01;
constexpr int64_t kMaxSilenceSteps = 300;  // longer gaps between events are shortened to 3 s

// The bucket of a MIDI velocity 1–127 and the velocity a bucket plays back with (its middle).
int velocity_bucket(int velocity);
int bucket_velocity(int bucket);
}  // namespace midi_tokens

// notes → events. Notes are clipped to pitch 0–127; notes shorter than one step still get one.
std::vector<int32_t> encode_notes(const std::vector<Note>& notes);
// events → notes. Any sequence decodes (it may come from a model): a note-off without a sounding note
// is ignored, a repeated note-on of a sounding pitch ends the earlier note, notes still sounding at
// the end last until the final time (at least one step). Tokens outside the vocabulary are errors.
std::vector<Note> decode_tokens(const std::vector<int32_t>& tokens);

// A readable name for a token, e.g. "on:60", "off:60", "shift:250ms", "vel:64".
std::string midi_token_name(int32_t token);

}  // namespace kiln::data
