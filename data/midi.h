// Standard MIDI Files (SMF, formats 0 and 1; format 2 is read too): kiln's own reader and writer.
// A file is a header chunk "MThd" (format, number of tracks, time division) and one "MTrk" chunk per
// track: a list of (delta time as a variable-length quantity, event). Events are channel messages
// (note on/off, controllers, program changes, ...; "running status" lets a message omit its status
// byte when it repeats the previous one), meta events (0xFF type length data: tempo, time signature,
// end of track, ...) and system-exclusive messages (0xF0/0xF7 length data).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

struct MidiEvent {
  int64_t tick = 0;           // absolute time in ticks from the start of its track
  uint8_t status = 0;         // 0x80–0xEF channel message, 0xFF meta event, 0xF0/0xF7 system exclusive
  uint8_t meta_type = 0;      // meta events only (0x51 tempo, 0x58 time signature, 0x2F end of track, ...)
  std::vector<uint8_t> data;  // channel messages: their 1 or 2 data bytes; meta/sysex: the payload

  bool is_meta() const { return status == 0xFF; }
  bool is_sysex() const { return status == 0xF0 || status == 0xF7; }
  bool is_channel() const { return status >= 0x80 && status < 0xF0; }
  uint8_t kind() const { return status & 0xF0; }  // channel messages: 0x80 note off, 0x90 note on, ...
  int channel() const { return status & 0x0F; }
};

struct MidiTrack {
  std::vector<MidiEvent> events;  // in time order; the writer adds an end-of-track event if missing
};

struct MidiFile {
  int format = 1;
  // The header's division: ticks per quarter note, or (SMPTE time) frames per second and ticks per
  // frame, in which case ticks_per_quarter is 0.
  int ticks_per_quarter = 480;
  int smpte_fps = 0;
  int smpte_ticks_per_frame = 0;
  std::vector<MidiTrack> tracks;
};

// Parses SMF bytes; `name` (usually the path) is named in every error, which also says what is wrong
// and at which byte offset. Unknown chunk types are skipped, as the standard asks.
MidiFile parse_midi(const std::vector<uint8_t>& bytes, const std::string& name);
// Reads a .mid file (gzip-compressed files too).
MidiFile read_midi(const std::string& path);

// The SMF bytes of `file` (running status is not used on output; every track ends with end-of-track).
std::vector<uint8_t> encode_midi(const MidiFile& file);
// Writes `file` to `path` atomically (see core/serialization/atomic_file.h).
void write_midi(const std::string& path, const MidiFile& file);

// Meta events for building files.
MidiEvent midi_tempo_event(int64_t tick, uint32_t microseconds_per_quarter);
MidiEvent midi_time_signature_event(int64_t tick, int numerator, int denominator, int clocks_per_click = 24,
                                    int thirty_seconds_per_quarter = 8);
MidiEvent midi_channel_event(int64_t tick, uint8_t status, uint8_t data1, uint8_t data2);

// The tempo map of a file: converts ticks to seconds using every tempo event of every track (format 1
// keeps them in the first track; all tracks are honoured), 120 beats per minute until the first one.
class MidiClock {
 public:
  explicit MidiClock(const MidiFile& file);
  double seconds(int64_t tick) const;

 private:
  struct Segment {
    int64_t tick;
    double seconds;           // time at `tick`
    double seconds_per_tick;  // from `tick` on
  };
  std::vector<Segment> segments_;
};

}  // namespace kiln::data
