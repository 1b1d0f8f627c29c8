// Audio output: the built-in synthesizer's pitch and length, FluidSynth rendering (where installed) and
// the fallback without it, and the WAV writer's header and samples.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iterator>

#include "data/fluidsynth_render.h"
#include "data/synth.h"
#include "data/wav.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;

TEST_CASE("synth: an A4 note sounds at 440 Hz for its duration", "[data][audio]") {
  const int rate = 22050;
  std::vector<float> s = synthesize_notes({{69, 100, 0.5, 1.5, 0}}, rate);
  CHECK(s.size() >= size_t(1.5 * rate));
  float peak = 0.0f;
  for (float v : s) peak = std::max(peak, std::abs(v));
  CHECK(std::abs(peak - 0.9f) < 1e-6f);
  for (size_t i = 0; i < size_t(0.5 * rate); ++i) REQUIRE(s[i] == 0.0f);  // silence before the note
  // Upward zero crossings over 0.6–1.4 s: the fundamental dominates, 440 per second.
  int crossings = 0;
  for (size_t i = size_t(0.6 * rate); i < size_t(1.4 * rate); ++i) crossings += s[i - 1] < 0.0f && s[i] >= 0.0f;
  CHECK(std::abs(crossings / 0.8 - 440.0) < 5.0);
  CHECK(synthesize_notes({}, rate).size() < size_t(rate));
  CHECK_THROWS_WITH_TEXT(synthesize_notes({}, 100), "sample rate 100 Hz is out of range");
}

namespace {

// Upward zero crossings per second over [from, to) seconds.
double crossings_per_second(const std::vector<float>& s, int rate, double from, double to) {
  int crossings = 0;
  for (size_t i = size_t(from * rate); i < size_t(to * rate); ++i) crossings += s[i - 1] < 0.0f && s[i] >= 0.0f;
  return crossings / (to - from);
}

}  // namespace

TEST_CASE("FluidSynth renders notes with a General MIDI piano where it is installed", "[data][audio]") {
  const FluidSynthSetup setup = find_fluidsynth();
  if (!setup.available) {
    WARN("FluidSynth not checked: " << setup.why_not);
    return;
  }
  const int rate = 22050;
  std::string renderer;
  std::vector<float> s = render_notes({{57, 100, 0.5, 1.5, 0}}, rate, &renderer);  // A3, 220 Hz
  CHECK(renderer.find("FluidSynth") == 0);
  CHECK(s.size() == size_t(std::ceil(3.0 * rate)));  // the note's end plus a 1.5 s tail
  float before = 0.0f, during = 0.0f;
  for (size_t i = 0; i < size_t(0.45 * rate); ++i) before = std::max(before, std::abs(s[i]));
  for (size_t i = size_t(0.5 * rate); i < size_t(1.5 * rate); ++i) during = std::max(during, std::abs(s[i]));
  CHECK(before < 1e-3f);                      // silence before the note
  CHECK(std::abs(during - 0.9f) < 1e-4f);     // normalized to a peak of 0.9, while the note sounds
  // A piano tone's crossings: the 220 Hz fundamental, give or take its harmonics' extra crossings.
  const double f = crossings_per_second(s, rate, 0.6, 1.4);
  CHECK((f > 200.0 && f < 700.0));
}

TEST_CASE("without FluidSynth's soundfont, notes are rendered by the built-in synthesizer", "[data][audio]") {
  const char* saved = std::getenv("KILN_SOUNDFONT");
  const std::string previous = saved ? saved : "";
  setenv("KILN_SOUNDFONT", "/nonexistent/kiln.sf2", 1);
  const FluidSynthSetup setup = find_fluidsynth();
  CHECK_FALSE(setup.available);
  CHECK(!setup.why_not.empty());
  std::string renderer;
  std::vector<float> s = render_notes({{69, 100, 0.5, 1.5, 0}}, 22050, &renderer);
  CHECK(renderer == "built-in synthesizer");
  CHECK(s == synthesize_notes({{69, 100, 0.5, 1.5, 0}}, 22050));
  if (saved)
    setenv("KILN_SOUNDFONT", previous.c_str(), 1);
  else
    unsetenv("KILN_SOUNDFONT");
}

TEST_CASE("WAV: 16-bit mono PCM with a correct header", "[data][audio]") {
  const std::string path = (std::filesystem::temp_directory_path() / "kiln_test.wav").string();
  write_wav(path, {0.0f, 1.0f, -1.0f, 2.0f, 0.5f}, 8000);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(b.size() == 44 + 10);
  CHECK(std::string(b.begin(), b.begin() + 4) == "RIFF");
  CHECK(std::string(b.begin() + 8, b.begin() + 16) == "WAVEfmt ");
  CHECK((b[22] == 1 && b[24] == 0x40 && b[25] == 0x1F));  // mono, 8000 Hz
  CHECK((b[40] == 10 && b[41] == 0));                     // data bytes
  auto sample = [&](int i) { return int16_t(uint16_t(b[size_t(44 + 2 * i)] | (b[size_t(45 + 2 * i)] << 8))); };
  CHECK(sample(0) == 0);
  CHECK(sample(1) == 32767);
  CHECK(sample(2) == -32767);
  CHECK(sample(3) == 32767);  // clipped
  CHECK(sample(4) == 16384);
  CHECK_THROWS_WITH_TEXT(write_wav("/nonexistent-dir/x.wav", {0.0f}, 8000), "/nonexistent-dir/x.wav");
}
