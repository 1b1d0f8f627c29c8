#include "data/synth.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace kiln::data {

// Note p at velocity v: f = 440·2^((p − 69)/12) Hz; amplitude a = (v/127)²·0.3;
// s(t) = a·env(t)·Σₖ₌₁³ e^(−k·t/τ)·sin(2π·k·f·t)/k, τ = 1.5 s; env: 5 ms linear attack, and a 80 ms
// linear release after the note's end.
std::vector<float> synthesize_notes(const std::vector<Note>& notes, int sample_rate) {
  KILN_CHECK(sample_rate >= 8000 && sample_rate <= 192000, "synthesize_notes: sample rate ", sample_rate,
             " Hz is out of range (8000 to 192000)");
  constexpr double kAttack = 0.005, kRelease = 0.08, kTau = 1.5, kTail = 0.25;
  double length = 0.0;
  for (const Note& n : notes) length = std::max(length, n.end + kRelease);
  std::vector<double> mix(size_t(std::ceil((length + kTail) * sample_rate)), 0.0);
  const double two_pi = 2.0 * std::numbers::pi;
  for (const Note& n : notes) {
    const double f = 440.0 * std::pow(2.0, (n.pitch - 69) / 12.0);
    const double amp = std::pow(std::clamp(n.velocity, 1, 127) / 127.0, 2.0) * 0.3;
    const double duration = std::max(n.end - n.start, kAttack);
    const size_t first = size_t(std::max(0.0, n.start) * sample_rate);
    const size_t count = size_t((duration + kRelease) * sample_rate);
    for (size_t i = 0; i < count && first + i < mix.size(); ++i) {
      const double t = double(i) / sample_rate;
      double env = std::min(1.0, t / kAttack);
      if (t > duration) env *= std::max(0.0, 1.0 - (t - duration) / kRelease);
      double s = 0.0;
      for (int k = 1; k <= 3; ++k) s += std::exp(-k * t / kTau) * std::sin(two_pi * k * f * t) / k;
      mix[first + i] += amp * env * s;
    }
  }
  double peak = 0.0;
  for (double s : mix) peak = std::max(peak, std::abs(s));
  const double gain = peak > 0.0 ? 0.9 / peak : 0.0;
  std::vector<float> out(mix.size());
  for (size_t i = 0; i < mix.size(); ++i) out[i] = float(mix[i] * gain);
  return out;
}

}  // namespace kiln::data
