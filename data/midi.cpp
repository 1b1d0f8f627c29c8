#include "data/midi.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/printable.h"
#include "core/serialization/atomic_file.h"
#include "data/file_bytes.h"

namespace kiln::data {
namespace {

constexpr uint8_t kEndOfTrack = 0x2F;
constexpr uint8_t kTempo = 0x51;
constexpr uint8_t kTimeSignature = 0x58;

// A bounds-checked cursor over the file's bytes; every error names the file and the byte offset.
class Reader {
 public:
  Reader(const std::vector<uint8_t>& bytes, const std::string& name) : b_(bytes), name_(name) {}

  size_t pos() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }
  void need(size_t n, size_t end, const char* what) const {
    KILN_CHECK(pos_ + n <= end, "MIDI file '", name_, "' is truncated: ", what, " at byte ", pos_, " needs ", n,
               " bytes, only ", end - std::min(end, pos_), " remain");
  }
  uint8_t u8(size_t end, const char* what) {
    need(1, end, what);
    return b_[pos_++];
  }
  uint8_t peek(size_t end, const char* what) const {
    need(1, end, what);
    return b_[pos_];
  }
  uint32_t be(int bytes, size_t end, const char* what) {
    need(size_t(bytes), end, what);
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | b_[pos_++];
    return v;
  }
  // A variable-length quantity: 7 bits a byte, most significant first, high bit set on all but the last;
  // at most 4 bytes (values below 2²⁸).
  uint32_t vlq(size_t end, const char* what) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t byte = u8(end, what);
      v = (v << 7) | (byte & 0x7F);
      if (!(byte & 0x80)) return v;
    }
    fail("a variable-length number (", what, ") longer than 4 bytes at byte ", pos_ - 4);
  }
  std::vector<uint8_t> bytes(size_t n, size_t end, const char* what) {
    need(n, end, what);
    std::vector<uint8_t> out(b_.begin() + int64_t(pos_), b_.begin() + int64_t(pos_ + n));
    pos_ += n;
    return out;
  }
  bool tag(const char* four) const { return pos_ + 4 <= b_.size() && std::memcmp(&b_[pos_], four, 4) == 0; }
  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    KILN_FAIL("MIDI file '", name_, "' is corrupt: ", args...);
  }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& name_;
  size_t pos_ = 0;
};

// Data bytes that follow a channel message's status byte: program change and channel pressure take one.
int channel_data_bytes(uint8_t status) {
  const uint8_t kind = status & 0xF0;
  return kind == 0xC0 || kind == 0xD0 ? 1 : 2;
}

MidiTrack parse_track(Reader& in, size_t end) {
  MidiTrack track;
  int64_t tick = 0;
  uint8_t running = 0;  // the last channel status byte, for running status
  while (in.pos() < end) {
    tick += in.vlq(end, "an event's delta time");
    MidiEvent e;
    e.tick = tick;
    uint8_t first = in.peek(end, "an event");
    if (first & 0x80) {
      e.status = in.u8(end, "an event");
    } else {
      if (running == 0) in.fail("data byte 0x", std::hex, int(first), std::dec, " at byte ", in.pos(),
                                " without a preceding status byte");
      e.status = running;  // running status: the byte read is already the first data byte
    }
    if (e.is_meta()) {
      e.meta_type = in.u8(end, "a meta event's type");
      e.data = in.bytes(in.vlq(end, "a meta event's length"), end, "a meta event's data");
      // Running status survives meta events: the standard says otherwise, but many real files rely on it
      // (and every common reader accepts it); a valid file is read the same either way.
      track.events.push_back(std::move(e));
      if (track.events.back().meta_type == kEndOfTrack) break;
      continue;
    }
    if (e.is_sysex()) {
      e.data = in.bytes(in.vlq(end, "a system-exclusive length"), end, "system-exclusive data");
      running = 0;
      track.events.push_back(std::move(e));
      continue;
    }
    if (!e.is_channel()) in.fail("status byte 0x", std::hex, int(e.status), std::dec, " at byte ", in.pos() - 1,
                                 " is not allowed in a MIDI file");
    running = e.status;
    for (int i = 0; i < channel_data_bytes(e.status); ++i) {
      uint8_t d = in.u8(end, "a channel message's data");
      if (d & 0x80) in.fail("data byte 0x", std::hex, int(d), std::dec, " at byte ", in.pos() - 1, " has its high bit set");
      e.data.push_back(d);
    }
    track.events.push_back(std::move(e));
  }
  return track;
}

void put_be(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}

void put_vlq(std::vector<uint8_t>& out, uint32_t v) {
  KILN_CHECK(v < (1u << 28), "MIDI: value ", v, " is too large for a variable-length number (limit 2^28 - 1)");
  uint8_t groups[4];
  int n = 0;
  do {
    groups[n++] = uint8_t(v & 0x7F);
    v >>= 7;
  } while (v != 0);
  for (int i = n - 1; i >= 0; --i) out.push_back(uint8_t(groups[i] | (i > 0 ? 0x80 : 0)));
}

void encode_event(std::vector<uint8_t>& out, const MidiEvent& e) {
  if (e.is_meta()) {
    out.push_back(0xFF);
    out.push_back(e.meta_type);
    put_vlq(out, uint32_t(e.data.size()));
  } else if (e.is_sysex()) {
    out.push_back(e.status);
    put_vlq(out, uint32_t(e.data.size()));
  } else {
    KILN_CHECK(e.is_channel(), "write_midi: event with invalid status byte 0x", std::hex, int(e.status));
    KILN_CHECK(int(e.data.size()) == channel_data_bytes(e.status), "write_midi: channel message 0x", std::hex,
               int(e.status), std::dec, " needs ", channel_data_bytes(e.status), " data bytes, has ", e.data.size());
    for (uint8_t d : e.data) KILN_CHECK(d < 0x80, "write_midi: data byte ", int(d), " is above 127");
    out.push_back(e.status);
  }
  out.insert(out.end(), e.data.begin(), e.data.end());
}

}  // namespace

MidiFile parse_midi(const std::vector<uint8_t>& bytes, const std::string& name) {
  Reader in(bytes, name);
  const size_t size = bytes.size();
  KILN_CHECK(!bytes.empty(), "'", name, "' is not a MIDI file: it is empty");
  KILN_CHECK(in.tag("MThd"), "'", name, "' is not a MIDI file: it starts with \"",
             printable(std::string_view(reinterpret_cast<const char*>(bytes.data()), std::min<size_t>(size, 4))),
             "\", not \"MThd\"");
  in.seek(4);
  const uint32_t header_length = in.be(4, size, "the header length");
  if (header_length < 6) in.fail("header chunk of ", header_length, " bytes (at least 6)");
  const size_t header_end = 8 + size_t(header_length);
  KILN_CHECK(header_end <= size, "MIDI file '", name, "' is truncated: its header chunk promises ", header_length,
             " bytes, the file has ", size, " in all");
  MidiFile file;
  file.format = int(in.be(2, header_end, "the format"));
  const int ntracks = int(in.be(2, header_end, "the track count"));
  const uint32_t division = in.be(2, header_end, "the time division");
  if (file.format > 2) in.fail("unknown format ", file.format, " (0, 1 or 2)");
  if (division & 0x8000) {
    file.ticks_per_quarter = 0;
    file.smpte_fps = -int(int8_t(uint8_t(division >> 8)));
    file.smpte_ticks_per_frame = int(division & 0xFF);
    if (!(file.smpte_fps == 24 || file.smpte_fps == 25 || file.smpte_fps == 29 || file.smpte_fps == 30) ||
        file.smpte_ticks_per_frame == 0)
      in.fail("SMPTE division with ", file.smpte_fps, " frames per second and ", file.smpte_ticks_per_frame,
              " ticks per frame");
  } else {
    file.ticks_per_quarter = int(division);
    if (division == 0) in.fail("a time division of 0 ticks per quarter note");
  }
  in.seek(header_end);
  while (in.pos() < size) {
    // A few stray bytes after the last promised track (padding some writers add) are ignored.
    if (size - in.pos() < 8 && int(file.tracks.size()) >= ntracks) break;
    const bool is_track = in.tag("MTrk");
    in.need(8, size, "a chunk header");
    // The chunk's four-letter type, quoted when it names one in a message: any bytes at all in a bad file.
    const std::string type = printable(std::string_view(reinterpret_cast<const char*>(&bytes[in.pos()]), 4));
    in.seek(in.pos() + 4);
    const uint32_t length = in.be(4, size, "a chunk length");
    const size_t end = in.pos() + length;
    if (end > size) {
      KILN_FAIL("MIDI file '", name, "' is truncated: a ", is_track ? "track" : "chunk", " (\"", type, "\") at byte ",
                in.pos() - 8, " promises ", length, " bytes, only ", size - in.pos(), " remain");
    }
    if (is_track) file.tracks.push_back(parse_track(in, end));
    in.seek(end);  // unknown chunks are skipped, and bytes after a track's end-of-track too
  }
  KILN_CHECK(int(file.tracks.size()) >= ntracks, "MIDI file '", name, "' is truncated: its header promises ", ntracks,
             " tracks, the file has ", file.tracks.size());
  return file;
}

MidiFile read_midi(const std::string& path) { return parse_midi(read_file_bytes(path), path); }

std::vector<uint8_t> encode_midi(const MidiFile& file) {
  KILN_CHECK(file.format >= 0 && file.format <= 2, "write_midi: format ", file.format, " (0, 1 or 2)");
  KILN_CHECK(file.format != 0 || file.tracks.size() == 1, "write_midi: format 0 holds exactly one track, got ",
             file.tracks.size());
  KILN_CHECK(file.tracks.size() <= 0xFFFF, "write_midi: ", file.tracks.size(), " tracks (at most 65535)");
  uint32_t division;
  if (file.ticks_per_quarter > 0) {
    KILN_CHECK(file.ticks_per_quarter < 0x8000, "write_midi: ticks_per_quarter ", file.ticks_per_quarter,
               " (at most 32767)");
    division = uint32_t(file.ticks_per_quarter);
  } else {
    KILN_CHECK(file.smpte_fps > 0 && file.smpte_fps < 128 && file.smpte_ticks_per_frame > 0 &&
                   file.smpte_ticks_per_frame < 256,
               "write_midi: no ticks_per_quarter and no valid SMPTE division");
    division = (uint32_t(uint8_t(-file.smpte_fps)) << 8) | uint32_t(file.smpte_ticks_per_frame);
  }
  std::vector<uint8_t> out = {'M', 'T', 'h', 'd'};
  put_be(out, 6, 4);
  put_be(out, uint32_t(file.format), 2);
  put_be(out, uint32_t(file.tracks.size()), 2);
  put_be(out, division, 2);
  for (const MidiTrack& track : file.tracks) {
    std::vector<uint8_t> body;
    int64_t tick = 0;
    for (const MidiEvent& e : track.events) {
      if (e.is_meta() && e.meta_type == kEndOfTrack) continue;  // written once, at the end
      KILN_CHECK(e.tick >= tick, "write_midi: events out of time order (tick ", e.tick, " after ", tick, ")");
      KILN_CHECK(e.tick - tick < (int64_t(1) << 28), "write_midi: a gap of ", e.tick - tick,
                 " ticks is too large for a MIDI delta time (limit 2^28 - 1)");
      put_vlq(body, uint32_t(e.tick - tick));
      tick = e.tick;
      encode_event(body, e);
    }
    int64_t end_tick = tick;
    for (const MidiEvent& e : track.events)
      if (e.is_meta() && e.meta_type == kEndOfTrack) end_tick = std::max(end_tick, e.tick);
    KILN_CHECK(end_tick - tick < (int64_t(1) << 28), "write_midi: end of track ", end_tick - tick,
               " ticks after the last event (limit 2^28 - 1)");
    put_vlq(body, uint32_t(end_tick - tick));
    body.insert(body.end(), {0xFF, kEndOfTrack, 0x00});
    out.insert(out.end(), {'M', 'T', 'r', 'k'});
    put_be(out, uint32_t(body.size()), 4);
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

void write_midi(const std::string& path, const MidiFile& file) {
  std::vector<uint8_t> bytes = encode_midi(file);
  write_file_atomically(path, bytes.data(), bytes.size());
}

MidiEvent midi_tempo_event(int64_t tick, uint32_t microseconds_per_quarter) {
  KILN_CHECK(microseconds_per_quarter > 0 && microseconds_per_quarter < (1u << 24), "MIDI tempo ",
             microseconds_per_quarter, " µs per quarter note is out of range (1 to 16777215)");
  return {tick, 0xFF, kTempo,
          {uint8_t(microseconds_per_quarter >> 16), uint8_t(microseconds_per_quarter >> 8),
           uint8_t(microseconds_per_quarter)}};
}

MidiEvent midi_time_signature_event(int64_t tick, int numerator, int denominator, int clocks_per_click,
                                    int thirty_seconds_per_quarter) {
  int power = 0;
  while ((1 << power) < denominator && power < 8) ++power;
  KILN_CHECK(numerator > 0 && numerator < 256 && (1 << power) == denominator, "MIDI time signature ", numerator, "/",
             denominator, ": the denominator must be a power of two and the numerator 1 to 255");
  return {tick, 0xFF, kTimeSignature,
          {uint8_t(numerator), uint8_t(power), uint8_t(clocks_per_click), uint8_t(thirty_seconds_per_quarter)}};
}

MidiEvent midi_channel_event(int64_t tick, uint8_t status, uint8_t data1, uint8_t data2) {
  MidiEvent e{tick, status, 0, {data1}};
  if (channel_data_bytes(status) == 2) e.data.push_back(data2);
  return e;
}

// seconds(t) = seconds(tᵢ) + (t − tᵢ)·(µs per quarter of segment i)/(10⁶·ticks per quarter),
// where tᵢ is the last tempo change at or before t.
MidiClock::MidiClock(const MidiFile& file) {
  if (file.ticks_per_quarter == 0) {  // SMPTE time: tempo events do not change the clock
    const double fps = file.smpte_fps == 29 ? 29.97 : double(file.smpte_fps);
    segments_.push_back({0, 0.0, 1.0 / (fps * file.smpte_ticks_per_frame)});
    return;
  }
  std::vector<std::pair<int64_t, uint32_t>> tempos;
  for (const MidiTrack& track : file.tracks)
    for (const MidiEvent& e : track.events)
      if (e.is_meta() && e.meta_type == kTempo && e.data.size() == 3)
        tempos.emplace_back(e.tick, (uint32_t(e.data[0]) << 16) | (uint32_t(e.data[1]) << 8) | e.data[2]);
  std::stable_sort(tempos.begin(), tempos.end(), [](auto& a, auto& b) { return a.first < b.first; });
  const double tpq = file.ticks_per_quarter;
  segments_.push_back({0, 0.0, 500000.0 / (1e6 * tpq)});  // 120 bpm until the first tempo event
  for (auto [tick, us] : tempos) {
    if (us == 0) continue;
    Segment& last = segments_.back();
    const double at = last.seconds + double(tick - last.tick) * last.seconds_per_tick;
    if (tick == last.tick)
      last.seconds_per_tick = us / (1e6 * tpq);
    else
      segments_.push_back({tick, at, us / (1e6 * tpq)});
  }
}

double MidiClock::seconds(int64_t tick) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), tick,
                             [](int64_t t, const Segment& s) { return t < s.tick; });
  const Segment& s = it == segments_.begin() ? segments_.front() : *(it - 1);
  return s.seconds + double(tick - s.tick) * s.seconds_per_tick;
}

}  // namespace kiln::data
