// Audio output: the built-in synthesizer's pitch and length, and the WAV writer's header and samples.
#include <filesystem>
#include <fstream>
#include <iterator>

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
