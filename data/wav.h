// WAV files (RIFF, 16-bit PCM, mono) for rendered music, written atomically.
#pragma once
#include <string>
#include <vector>

namespace kiln::data {

// Writes samples in [-1, 1] (clipped) as 16-bit mono PCM at `sample_rate` Hz.
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);

}  // namespace kiln::data
