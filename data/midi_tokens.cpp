#include "data/midi_tokens.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <tuple>

#include "core/error.h"

namespace kiln::data {
namespace mt = midi_tokens;

namespace {

constexpr int kDrumChannel = 9;           // MIDI channel 10, counted from 0
constexpr int kTicksPerQuarter = 480;     // of the files notes_to_midi writes
constexpr double kTicksPerSecond = 960;   // at its 120 bpm

int64_t to_step(double seconds) { return std::llround(seconds / mt::kStepSeconds); }

bool by_start(const Note& a, const Note& b) { return std::tie(a.start, a.pitch) < std::tie(b.start, b.pitch); }

}  // namespace

int mt::velocity_bucket(int velocity) { return (std::clamp(velocity, 1, 127) - 1) / 4; }
int mt::bucket_velocity(int bucket) { return std::min(127, 4 * std::clamp(bucket, 0, kVelocityBuckets - 1) + 3); }

std::vector<Note> midi_notes(const MidiFile& file, bool include_drums) {
  const MidiClock clock(file);
  std::vector<Note> notes;
  for (const MidiTrack& track : file.tracks) {
    std::map<std::pair<int, int>, std::deque<std::pair<int64_t, int>>> sounding;  // (channel, pitch) → (tick, vel)
    int64_t last_tick = 0;
    for (const MidiEvent& e : track.events) {
      last_tick = std::max(last_tick, e.tick);
      if (!e.is_channel() || (e.kind() != 0x80 && e.kind() != 0x90) || e.data.size() < 2) continue;
      if (e.channel() == kDrumChannel && !include_drums) continue;
      const int pitch = e.data[0], velocity = e.data[1];
      auto& open = sounding[{e.channel(), pitch}];
      if (e.kind() == 0x90 && velocity > 0) {
        open.emplace_back(e.tick, velocity);
      } else if (!open.empty()) {  // note-off, or note-on with velocity 0: ends the oldest sounding note
        auto [start, vel] = open.front();
        open.pop_front();
        notes.push_back({pitch, vel, clock.seconds(start), clock.seconds(e.tick), e.channel()});
      }
    }
    for (auto& [key, open] : sounding)
      for (auto [start, vel] : open)
        notes.push_back({key.second, vel, clock.seconds(start), clock.seconds(last_tick), key.first});
  }
  std::stable_sort(notes.begin(), notes.end(), by_start);
  return notes;
}

MidiFile notes_to_midi(const std::vector<Note>& notes) {
  struct Timed {
    int64_t tick;
    bool on;
    MidiEvent event;
  };
  std::vector<Timed> timed;
  for (const Note& n : notes) {
    const int64_t on = std::llround(std::max(0.0, n.start) * kTicksPerSecond);
    const int64_t off = std::max(on + 1, int64_t(std::llround(n.end * kTicksPerSecond)));
    const uint8_t pitch = uint8_t(std::clamp(n.pitch, 0, 127)), vel = uint8_t(std::clamp(n.velocity, 1, 127));
    timed.push_back({on, true, midi_channel_event(on, 0x90, pitch, vel)});
    timed.push_back({off, false, midi_channel_event(off, 0x80, pitch, 64)});
  }
  // Offs before ons at the same tick, so that a repeated pitch is released before it sounds again.
  std::stable_sort(timed.begin(), timed.end(),
                   [](const Timed& a, const Timed& b) { return std::tie(a.tick, a.on) < std::tie(b.tick, b.on); });
  MidiFile file;
  file.format = 0;
  file.ticks_per_quarter = kTicksPerQuarter;
  MidiTrack track;
  track.events.push_back(midi_tempo_event(0, 500000));  // 120 beats per minute
  track.events.push_back(midi_time_signature_event(0, 4, 4));
  track.events.push_back(midi_channel_event(0, 0xC0, 0, 0));  // program 0: acoustic grand piano
  for (Timed& t : timed) track.events.push_back(std::move(t.event));
  file.tracks.push_back(std::move(track));
  return file;
}

std::vector<int32_t> encode_notes(const std::vector<Note>& notes) {
  struct Event {
    int64_t step;
    bool on;
    int pitch, velocity;
  };
  std::vector<Event> events;
  for (const Note& n : notes) {
    KILN_CHECK(std::isfinite(n.start) && std::isfinite(n.end) && n.start < 1e7 && n.end < 1e7,
               "encode_notes: a note at ", n.start, " s to ", n.end, " s is outside the time range (under 10^7 s)");
    const int pitch = std::clamp(n.pitch, 0, 127);
    const int64_t on = std::max<int64_t>(0, to_step(n.start));
    events.push_back({on, true, pitch, n.velocity});
    events.push_back({std::max(on + 1, to_step(n.end)), false, pitch, 0});
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.step, a.on, a.pitch) < std::tie(b.step, b.on, b.pitch);
  });
  std::vector<int32_t> tokens;
  int64_t now = 0, shift = 0;  // shift: steps removed from long silences so far
  int bucket = -1;
  for (Event e : events) {
    e.step -= shift;
    if (e.step - now > mt::kMaxSilenceSteps) {  // a long silence is shortened to kMaxSilenceSteps
      shift += e.step - now - mt::kMaxSilenceSteps;
      e.step = now + mt::kMaxSilenceSteps;
    }
    for (int64_t gap = e.step - now; gap > 0; gap -= mt::kTimeShiftSteps)
      tokens.push_back(mt::kTimeShift + int32_t(std::min<int64_t>(gap, mt::kTimeShiftSteps)) - 1);
    now = e.step;
    if (!e.on) {
      tokens.push_back(mt::kNoteOff + e.pitch);
      continue;
    }
    if (mt::velocity_bucket(e.velocity) != bucket) {
      bucket = mt::velocity_bucket(e.velocity);
      tokens.push_back(mt::kVelocity + bucket);
    }
    tokens.push_back(mt::kNoteOn + e.pitch);
  }
  return tokens;
}

std::vector<Note> decode_tokens(const std::vector<int32_t>& tokens) {
  std::vector<Note> notes;
  int64_t now = 0;
  int velocity = 64;
  int64_t open_start[128];
  int open_velocity[128];
  std::fill(std::begin(open_start), std::end(open_start), -1);
  auto close = [&](int pitch, int64_t end) {
    const int64_t start = open_start[pitch];
    notes.push_back({pitch, open_velocity[pitch], start * mt::kStepSeconds,
                     std::max(end, start + 1) * mt::kStepSeconds, 0});
    open_start[pitch] = -1;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t t = tokens[i];
    KILN_CHECK(t >= 0 && t < mt::kVocabularySize, "decode_tokens: token ", t, " at position ", i,
               " is outside the MIDI event vocabulary (0 to ", mt::kVocabularySize - 1, ")");
    if (t < mt::kNoteOff) {
      if (open_start[t] >= 0) close(t, now);
      open_start[t] = now;
      open_velocity[t] = velocity;
    } else if (t < mt::kTimeShift) {
      if (open_start[t - mt::kNoteOff] >= 0) close(t - mt::kNoteOff, now);
    } else if (t < mt::kVelocity) {
      now += t - mt::kTimeShift + 1;
    } else {
      velocity = mt::bucket_velocity(t - mt::kVelocity);
    }
  }
  for (int pitch = 0; pitch < 128; ++pitch)
    if (open_start[pitch] >= 0) close(pitch, now);
  std::stable_sort(notes.begin(), notes.end(), by_start);
  return notes;
}

std::string midi_token_name(int32_t t) {
  if (t < 0 || t >= mt::kVocabularySize) return "invalid:" + std::to_string(t);
  if (t < mt::kNoteOff) return "on:" + std::to_string(t);
  if (t < mt::kTimeShift) return "off:" + std::to_string(t - mt::kNoteOff);
  if (t < mt::kVelocity) return "shift:" + std::to_string((t - mt::kTimeShift + 1) * 10) + "ms";
  return "vel:" + std::to_string(mt::bucket_velocity(t - mt::kVelocity));
}

}  // namespace kiln::data
