#include "data/wav.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/serialization/atomic_file.h"

namespace kiln::data {
namespace {

void put_le(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

// RIFF layout: "RIFF" size "WAVE", "fmt " chunk (PCM = 1, channels, rate, byte rate, block align, bits),
// "data" chunk with little-endian int16 samples.
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  KILN_CHECK(sample_rate > 0 && sample_rate <= 384000, "write_wav: sample rate ", sample_rate, " Hz is out of range");
  const uint64_t data_bytes = uint64_t(samples.size()) * 2;
  KILN_CHECK(data_bytes + 36 <= 0xFFFFFFFFull, "write_wav: ", samples.size(), " samples exceed a WAV file's 4 GiB");
  std::vector<uint8_t> out;
  out.reserve(44 + data_bytes);
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  put_le(out, uint32_t(36 + data_bytes), 4);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put_le(out, 16, 4);
  put_le(out, 1, 2);  // PCM
  put_le(out, 1, 2);  // mono
  put_le(out, uint32_t(sample_rate), 4);
  put_le(out, uint32_t(sample_rate) * 2, 4);
  put_le(out, 2, 2);
  put_le(out, 16, 2);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  put_le(out, uint32_t(data_bytes), 4);
  for (float s : samples) {
    const float clipped = std::isnan(s) ? 0.0f : std::clamp(s, -1.0f, 1.0f);
    put_le(out, uint32_t(uint16_t(int16_t(std::lround(clipped * 32767.0f)))), 2);
  }
  write_file_atomically(path, out.data(), out.size());
}

}  // namespace kiln::data
