// MIDI files: hand-assembled bytes (running status, meta and sysex events), write → read round trips,
// the tempo map, note extraction, the event tokenization, and corrupt files reported by name.
#include <filesystem>
#include <fstream>

#include "data/midi.h"
#include "data/midi_corpus.h"
#include "data/midi_tokens.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;

namespace {

// MThd, format 0, one track, 96 ticks per quarter; then an MTrk of `body`.
std::vector<uint8_t> one_track_file(const std::vector<uint8_t>& body) {
  const uint8_t header[] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0};
  std::vector<uint8_t> b(std::begin(header), std::end(header));
  b.push_back(uint8_t(body.size()));
  for (uint8_t byte : body) b.push_back(byte);
  return b;
}

// Middle C and the D above it, the second note-on and the second note-off in running status; a tempo
// of 0x07A120 = 500000 µs per quarter, a sysex message and the end of the track.
std::vector<uint8_t> two_notes_body() {
  return {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,  // tempo 120 bpm
          0x00, 0x90, 0x3C, 0x40,                    // note on C4 vel 64
          0x60, 0x3E, 0x50,                          // +96: (running) note on D4 vel 80
          0x60, 0x80, 0x3C, 0x00,                    // +96: note off C4
          0x00, 0x3E, 0x00,                          // (running) note off D4
          0x00, 0xF0, 0x02, 0x7E, 0xF7,              // sysex
          0x83, 0x00, 0xFF, 0x2F, 0x00};             // +384 (two-byte delta): end of track
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "kiln_test_midi";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("MIDI: a hand-assembled file with running status is parsed", "[data][midi]") {
  MidiFile f = parse_midi(one_track_file(two_notes_body()), "two.mid");
  CHECK(f.format == 0);
  CHECK(f.ticks_per_quarter == 96);
  REQUIRE(f.tracks.size() == 1);
  const auto& ev = f.tracks[0].events;
  REQUIRE(ev.size() == 7);
  CHECK((ev[0].is_meta() && ev[0].meta_type == 0x51));
  CHECK((ev[2].status == 0x90 && ev[2].tick == 96 && ev[2].data == std::vector<uint8_t>{0x3E, 0x50}));
  CHECK((ev[4].status == 0x80 && ev[4].tick == 192 && ev[4].data == std::vector<uint8_t>{0x3E, 0x00}));
  CHECK((ev[5].is_sysex() && ev[5].data.size() == 2));
  CHECK(ev[6].tick == 192 + 384);

  std::vector<Note> notes = midi_notes(f);
  REQUIRE(notes.size() == 2);
  CHECK((notes[0].pitch == 60 && notes[0].velocity == 64 && notes[0].start == 0.0));
  CHECK(std::abs(notes[0].end - 1.0) < 1e-12);  // 192 ticks at 96 per quarter, 0.5 s a quarter
  CHECK((notes[1].pitch == 62 && std::abs(notes[1].start - 0.5) < 1e-12 && std::abs(notes[1].end - 1.0) < 1e-12));
}

TEST_CASE("MIDI: written files read back identically", "[data][midi]") {
  MidiFile f;
  f.format = 1;
  f.ticks_per_quarter = 480;
  MidiTrack conductor;
  conductor.events = {midi_tempo_event(0, 600000), midi_time_signature_event(0, 3, 4), midi_tempo_event(960, 400000)};
  MidiTrack piano;
  piano.events = {midi_channel_event(0, 0xC0, 5, 0), midi_channel_event(0, 0x90, 64, 100),
                  midi_channel_event(200000, 0x80, 64, 0), midi_channel_event(200000, 0xB0, 7, 127)};
  f.tracks = {conductor, piano};
  const std::string path = temp_path("roundtrip.mid");
  write_midi(path, f);
  MidiFile g = read_midi(path);
  CHECK(g.format == 1);
  CHECK(g.ticks_per_quarter == 480);
  REQUIRE(g.tracks.size() == 2);
  for (size_t t = 0; t < 2; ++t) {
    const auto& a = f.tracks[t].events;
    const auto& b = g.tracks[t].events;
    REQUIRE(b.size() == a.size() + 1);  // + end of track
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("track " << t << " event " << i);
      CHECK((b[i].tick == a[i].tick && b[i].status == a[i].status && b[i].meta_type == a[i].meta_type &&
             b[i].data == a[i].data));
    }
    CHECK((b.back().is_meta() && b.back().meta_type == 0x2F));
  }
  CHECK(encode_midi(g) == encode_midi(f));
}

TEST_CASE("MIDI: the tempo map converts ticks to seconds", "[data][midi]") {
  MidiFile f;
  f.ticks_per_quarter = 100;
  MidiTrack t;
  t.events = {midi_tempo_event(200, 1000000)};  // 120 bpm (0.5 s a quarter) until tick 200, then 60 bpm
  f.tracks = {t};
  MidiClock clock(f);
  CHECK(clock.seconds(0) == 0.0);
  CHECK(std::abs(clock.seconds(100) - 0.5) < 1e-12);
  CHECK(std::abs(clock.seconds(200) - 1.0) < 1e-12);
  CHECK(std::abs(clock.seconds(350) - 2.5) < 1e-12);

  MidiFile smpte;
  smpte.ticks_per_quarter = 0;
  smpte.smpte_fps = 25;
  smpte.smpte_ticks_per_frame = 40;  // 1000 ticks a second
  smpte.tracks = {t};
  CHECK(std::abs(MidiClock(smpte).seconds(1500) - 1.5) < 1e-12);
  MidiFile back = parse_midi(encode_midi(smpte), "smpte.mid");
  CHECK((back.ticks_per_quarter == 0 && back.smpte_fps == 25 && back.smpte_ticks_per_frame == 40));
}

TEST_CASE("MIDI: corrupt files are reported with their name and what is wrong", "[data][midi]") {
  std::vector<uint8_t> good = one_track_file(two_notes_body());
  CHECK_THROWS_WITH_TEXT(parse_midi({'R', 'I', 'F', 'F', 0, 0}, "song.wav"), "'song.wav' is not a MIDI file");
  std::vector<uint8_t> cut(good.begin(), good.end() - 5);
  CHECK_THROWS_WITH_TEXT(parse_midi(cut, "cut.mid"), "MIDI file 'cut.mid' is truncated");
  std::vector<uint8_t> header_only(good.begin(), good.begin() + 14);
  CHECK_THROWS_WITH_TEXT(parse_midi(header_only, "empty.mid"), "promises 1 tracks, the file has 0");
  CHECK_THROWS_WITH_TEXT(parse_midi(one_track_file({0x00, 0x3C, 0x40}), "nostatus.mid"), "without a preceding status");
  CHECK_THROWS_WITH_TEXT(parse_midi(one_track_file({0xFF, 0xFF, 0xFF, 0xFF, 0x7F}), "vlq.mid"), "longer than 4 bytes");
  CHECK_THROWS_WITH_TEXT(parse_midi(one_track_file({0x00, 0x90, 0x3C, 0xC0}), "high.mid"), "high bit set");
  CHECK_THROWS_WITH_TEXT(parse_midi(one_track_file({0x00, 0xF3, 0x01}), "sys.mid"), "not allowed in a MIDI file");
  CHECK_THROWS_WITH_TEXT(read_midi("/nonexistent/kiln.mid"), "cannot open '/nonexistent/kiln.mid'");
}

TEST_CASE("MIDI: bytes of a bad file are quoted printably in the message", "[data][midi]") {
  // An ESC sequence where the header or a chunk type should be must not reach the terminal as it is.
  const std::vector<uint8_t> not_midi = {0x1B, '[', '2', 'J', 'x', 'x'};
  CHECK_THROWS_WITH_TEXT(parse_midi(not_midi, "clear.mid"), "it starts with \"\\x1b[2J\", not \"MThd\"");
  std::vector<uint8_t> chunk = one_track_file(two_notes_body());
  // A chunk whose type is an ESC sequence, promising 100 bytes and holding 2.
  for (uint8_t b : std::vector<uint8_t>{0x1B, '[', '2', 'J', 0, 0, 0, 100, 1, 2}) chunk.push_back(b);
  CHECK_THROWS_WITH_TEXT(parse_midi(chunk, "chunk.mid"), "a chunk (\"\\x1b[2J\") at byte");
  for (const auto& bytes : {not_midi, chunk}) {
    try {
      parse_midi(bytes, "x.mid");
      FAIL("parsed");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find('\x1b') == std::string::npos);
    }
  }
}

TEST_CASE("MIDI tokens: notes on the 10 ms grid survive encode → decode exactly", "[data][midi]") {
  namespace mt = midi_tokens;
  std::vector<Note> notes = {{60, 100, 0.0, 0.5, 0}, {64, 100, 0.0, 0.25, 0}, {67, 40, 0.25, 2.75, 0},
                             {60, 127, 3.5, 3.51, 0}};
  std::vector<int32_t> tokens = encode_notes(notes);
  // Starts with velocity 100's bucket, then both note-ons.
  REQUIRE(tokens.size() >= 3);
  CHECK(tokens[0] == mt::kVelocity + mt::velocity_bucket(100));
  CHECK((tokens[1] == mt::kNoteOn + 60 && tokens[2] == mt::kNoteOn + 64));
  for (int32_t t : tokens) CHECK((t >= 0 && t < mt::kVocabularySize));
  std::vector<Note> back = decode_tokens(tokens);
  REQUIRE(back.size() == notes.size());
  for (size_t i = 0; i < notes.size(); ++i) {
    INFO("note " << i << ": " << back[i].pitch << " " << back[i].start << "–" << back[i].end);
    CHECK(back[i].pitch == notes[i].pitch);
    CHECK(mt::velocity_bucket(back[i].velocity) == mt::velocity_bucket(notes[i].velocity));
    CHECK(std::abs(back[i].start - notes[i].start) < 1e-9);
    CHECK(std::abs(back[i].end - notes[i].end) < 1e-9);
  }
  CHECK(midi_token_name(mt::kTimeShift + 24) == "shift:250ms");
  CHECK(midi_token_name(mt::kNoteOff + 60) == "off:60");
  CHECK_THROWS_WITH_TEXT(decode_tokens({0, 400}), "token 400 at position 1 is outside");
}

TEST_CASE("MIDI tokens: any token sequence decodes to playable notes", "[data][midi]") {
  namespace mt = midi_tokens;
  // A stray note-off, a repeated note-on, and a note left sounding at the end.
  std::vector<Note> notes = decode_tokens({mt::kNoteOff + 50, mt::kNoteOn + 60, mt::kTimeShift + 9, mt::kNoteOn + 60,
                                           mt::kTimeShift + 4, mt::kNoteOn + 62});
  REQUIRE(notes.size() == 3);
  CHECK((notes[0].pitch == 60 && std::abs(notes[0].end - 0.1) < 1e-12));
  CHECK((notes[1].pitch == 60 && std::abs(notes[1].start - 0.1) < 1e-12 && std::abs(notes[1].end - 0.15) < 1e-12));
  CHECK((notes[2].pitch == 62 && notes[2].end > notes[2].start));
  MidiFile f = notes_to_midi(notes);
  std::vector<Note> again = midi_notes(parse_midi(encode_midi(f), "generated.mid"));
  REQUIRE(again.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(again[i].pitch == notes[i].pitch);
    CHECK(std::abs(again[i].start - notes[i].start) < 1e-3);
    CHECK(std::abs(again[i].end - notes[i].end) < 1e-3);
  }
}

TEST_CASE("MIDI: Debian's MIDI files parse and re-encode to the same events", "[data][midi]") {
  const std::string dir = "/usr/share/planetblupi/music";
  if (!std::filesystem::is_directory(dir)) {
    WARN("Debian's planetblupi-music-midi is not installed: real-file check skipped");
    return;
  }
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".mid") continue;
    INFO(entry.path().string());
    MidiFile f = read_midi(entry.path().string());
    MidiFile g = parse_midi(encode_midi(f), "re-encoded");
    REQUIRE(g.tracks.size() == f.tracks.size());
    for (size_t t = 0; t < f.tracks.size(); ++t) {
      size_t n = 0;  // events before the first end of track
      while (n < f.tracks[t].events.size() && !(f.tracks[t].events[n].is_meta() && f.tracks[t].events[n].meta_type == 0x2F))
        ++n;
      REQUIRE(g.tracks[t].events.size() >= n);
      for (size_t i = 0; i < n; ++i)
        CHECK((g.tracks[t].events[i].tick == f.tracks[t].events[i].tick &&
               g.tracks[t].events[i].data == f.tracks[t].events[i].data));
    }
    CHECK(!midi_notes(f).empty());
    ++files;
  }
  CHECK(files > 0);
}

TEST_CASE("MIDI corpus: folders become one token stream, and corrupt files are skipped and listed", "[data][midi]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "kiln_test_midi" / "corpus";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_midi((dir / "a.mid").string(), notes_to_midi({{60, 100, 0.0, 0.5, 0}, {62, 100, 0.5, 1.0, 0}}));
  write_midi((dir / "b.mid").string(), notes_to_midi({{64, 90, 0.0, 0.25, 0}}));
  {
    std::vector<uint8_t> bad = one_track_file({0x00, 0x3C, 0x40});
    std::ofstream(dir / "bad.mid", std::ios::binary).write(reinterpret_cast<const char*>(bad.data()), std::streamsize(bad.size()));
  }
  MidiCorpus c = load_midi_corpus({dir.string()}, 0.0);
  CHECK(c.files.size() == 2);
  REQUIRE(c.skipped.size() == 1);
  CHECK(c.skipped[0].find("MIDI file '" + (dir / "bad.mid").string()) == 0);
  std::vector<int64_t> tokens = c.train.to_vector<int64_t>();
  std::vector<int32_t> a = encode_notes({{60, 100, 0.0, 0.5, 0}, {62, 100, 0.5, 1.0, 0}});
  std::vector<int32_t> b = encode_notes({{64, 90, 0.0, 0.25, 0}});
  REQUIRE(tokens.size() == a.size() + b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(tokens[i] == a[i]);
  for (size_t i = 0; i < b.size(); ++i) CHECK(tokens[a.size() + i] == b[i]);
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({(dir / "bad.mid").string()}), "bad.mid' is corrupt");
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({"/nonexistent/music"}), "'/nonexistent/music' does not exist");
}

TEST_CASE("MIDI corpus: Debian's music", "[data][midi]") {
  bool installed = false;
  for (const std::string& p : kDefaultMidiPaths) installed |= std::filesystem::exists(p);
  if (!installed) {
    WARN("Debian's planetblupi-music-midi / pianobooster are not installed: skipped");
    return;
  }
  MidiCorpus c = load_midi_corpus(kDefaultMidiPaths);
  CHECK(c.files.size() >= 10);
  CHECK(c.tokens > 10000);
  INFO(c.skipped.size() << " skipped");
  CHECK(c.skipped.size() < c.files.size());
}

TEST_CASE("MIDI: hostile and sloppy files", "[data][midi]") {
  // A header chunk that promises more bytes than the file has.
  CHECK_THROWS_WITH_TEXT(parse_midi({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1}, "short.mid"), "header chunk promises 6 bytes");
  // Running status continuing across a meta event (common in real files) is accepted.
  MidiFile f = parse_midi(one_track_file({0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x01, 0x01, 'x', 0x10, 0x3C, 0x00}), "rs.mid");
  REQUIRE(f.tracks[0].events.size() == 3);
  CHECK((f.tracks[0].events[2].status == 0x90 && f.tracks[0].events[2].data[1] == 0));
  // Padding bytes after the last track are ignored.
  std::vector<uint8_t> padded = one_track_file(two_notes_body());
  padded.insert(padded.end(), {0, 0, 0});
  CHECK(parse_midi(padded, "padded.mid").tracks.size() == 1);
  // A gap of hours between two notes becomes 3 s of tokens, not millions.
  std::vector<int32_t> tokens = encode_notes({{60, 90, 0.0, 0.5, 0}, {62, 90, 7200.0, 7200.5, 0}});
  CHECK(tokens.size() < 20);
  std::vector<Note> back = decode_tokens(tokens);
  REQUIRE(back.size() == 2);
  CHECK(std::abs(back[1].start - 3.5) < 1e-9);
  CHECK_THROWS_WITH_TEXT(encode_notes({{60, 90, 0.0, INFINITY, 0}}), "outside the time range");
  MidiFile far;
  far.tracks.resize(1);
  far.tracks[0].events = {midi_channel_event(int64_t(1) << 32, 0x90, 60, 90)};
  CHECK_THROWS_WITH_TEXT(encode_midi(far), "too large for a MIDI delta time");
}

TEST_CASE("MIDI corpus: a file named on its own says what is wrong with it", "[data][midi]") {
  namespace fs = std::filesystem;
  auto file = [](const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string p = temp_path(name);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p;
  };
  // A header promising no tracks, and nothing else.
  const std::string no_tracks = file("no_tracks.mid", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 0, 0, 96});
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({no_tracks}), "MIDI file '" + no_tracks + "' has no tracks");
  // A track with only an end-of-track event.
  const std::string silent = file("silent.mid", one_track_file({0x00, 0xFF, 0x2F, 0x00}));
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({silent}), "MIDI file '" + silent + "' has no notes in its 1 track");
  // Delta times of 0x0FFFFFFF (the largest there is) between note-on and note-off, four times over: the
  // notes lie past 10^7 seconds.
  std::vector<uint8_t> far;
  for (int i = 0; i < 4; ++i)
    far.insert(far.end(), {0xFF, 0xFF, 0xFF, 0x7F, 0x90, 0x3C, 0x40, 0xFF, 0xFF, 0xFF, 0x7F, 0x80, 0x3C, 0x00});
  far.insert(far.end(), {0x00, 0xFF, 0x2F, 0x00});
  const std::string late = file("late.mid", one_track_file(far));
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({late}), "MIDI file '" + late + "' cannot be turned into event tokens");
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({late}), "outside the time range");
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({file("empty.mid", {})}), "empty.mid' is not a MIDI file: it is empty");
}

TEST_CASE("MIDI corpus: a folder with nothing usable names the files and the reasons", "[data][midi]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "kiln_test_midi" / "all_bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int i = 0; i < 7; ++i) std::ofstream(dir / ("bad" + std::to_string(i) + ".mid")) << "not music";
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({dir.string()}), "has no usable music (7 MIDI files found, 7 skipped):\n  '" +
                                                               (dir / "bad0.mid").string() + "' is not a MIDI file");
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({dir.string()}), "bad4.mid' is not a MIDI file");
  CHECK_THROWS_WITH_TEXT(load_midi_corpus({dir.string()}), "\n  and 2 more");
}
