#include "data/fluidsynth_render.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <type_traits>

#include "data/synth.h"

namespace kiln::data {
namespace {

// The few functions of FluidSynth's C API that kiln calls (fluidsynth/settings.h, synth.h, sfont.h);
// its objects are opaque pointers.
struct FluidApi {
  void* (*new_settings)();
  int (*settings_setnum)(void*, const char*, double);
  int (*settings_setint)(void*, const char*, int);
  void* (*new_synth)(void*);
  int (*sfload)(void*, const char*, int);
  int (*program_change)(void*, int, int);
  int (*noteon)(void*, int, int, int);
  int (*noteoff)(void*, int, int);
  int (*write_float)(void*, int, void*, int, int, void*, int, int);
  void (*delete_synth)(void*);
  void (*delete_settings)(void*);
};

// Opens the library once; nullptr when it is not installed or lacks a function.
const FluidApi* fluid_api() {
  static const FluidApi* api = []() -> const FluidApi* {
    void* lib = dlopen("libfluidsynth.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libfluidsynth.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    static FluidApi a;
    bool ok = true;
    auto bind = [&](auto& fn, const char* name) {
      void* p = dlsym(lib, name);
      ok = ok && p;
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    bind(a.new_settings, "new_fluid_settings");
    bind(a.settings_setnum, "fluid_settings_setnum");
    bind(a.settings_setint, "fluid_settings_setint");
    bind(a.new_synth, "new_fluid_synth");
    bind(a.sfload, "fluid_synth_sfload");
    bind(a.program_change, "fluid_synth_program_change");
    bind(a.noteon, "fluid_synth_noteon");
    bind(a.noteoff, "fluid_synth_noteoff");
    bind(a.write_float, "fluid_synth_write_float");
    bind(a.delete_synth, "delete_fluid_synth");
    bind(a.delete_settings, "delete_fluid_settings");
    return ok ? &a : nullptr;
  }();
  return api;
}

std::string find_soundfont() {
  if (const char* env = std::getenv("KILN_SOUNDFONT"); env && *env) return env;
  for (const char* path : {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2"})
    if (std::filesystem::exists(path)) return path;
  return "";
}

}  // namespace

FluidSynthSetup find_fluidsynth() {
  FluidSynthSetup s;
  s.soundfont = find_soundfont();
  if (!fluid_api())
    s.why_not = "libfluidsynth.so.3 is not installed (Debian: apt-get install libfluidsynth3)";
  else if (s.soundfont.empty())
    s.why_not = "no General MIDI soundfont (Debian: apt-get install fluid-soundfont-gm, or set KILN_SOUNDFONT)";
  else if (!std::filesystem::exists(s.soundfont))
    s.why_not = "soundfont '" + s.soundfont + "' (KILN_SOUNDFONT) does not exist";
  s.available = s.why_not.empty();
  return s;
}

std::optional<std::vector<float>> render_with_fluidsynth(const std::vector<Note>& notes, int sample_rate) {
  const FluidSynthSetup setup = find_fluidsynth();
  if (!setup.available) return std::nullopt;
  const FluidApi& f = *fluid_api();
  void* settings = f.new_settings();
  if (!settings) return std::nullopt;
  f.settings_setnum(settings, "synth.sample-rate", double(sample_rate));
  f.settings_setint(settings, "synth.cpu-cores", 1);
  void* synth = f.new_synth(settings);
  if (!synth || f.sfload(synth, setup.soundfont.c_str(), 1) < 0) {
    if (synth) f.delete_synth(synth);
    f.delete_settings(settings);
    return std::nullopt;
  }
  for (int channel = 0; channel < 16; ++channel)
    if (channel != 9) f.program_change(synth, channel, 0);  // acoustic grand piano (9 is the drum channel)

  // Note-offs before note-ons at the same instant, so a repeated pitch sounds again.
  struct Event {
    double time;
    bool on;
    const Note* note;
  };
  std::vector<Event> events;
  double end = 0.0;
  for (const Note& n : notes) {
    events.push_back({n.start, true, &n});
    events.push_back({n.end, false, &n});
    end = std::max(end, n.end);
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.time != b.time ? a.time < b.time : (!a.on && b.on);
  });
  const int64_t total = int64_t(std::ceil((end + 1.5) * sample_rate));
  std::vector<float> left(static_cast<size_t>(total)), right(static_cast<size_t>(total));
  int64_t done = 0;
  auto render_until = [&](int64_t frame) {
    frame = std::min(frame, total);
    while (done < frame) {
      const int n = int(std::min<int64_t>(4096, frame - done));
      f.write_float(synth, n, left.data() + done, 0, 1, right.data() + done, 0, 1);
      done += n;
    }
  };
  for (const Event& e : events) {
    render_until(int64_t(std::llround(e.time * sample_rate)));
    const int channel = std::clamp(e.note->channel, 0, 15), pitch = std::clamp(e.note->pitch, 0, 127);
    if (e.on)
      f.noteon(synth, channel, pitch, std::clamp(e.note->velocity, 1, 127));
    else
      f.noteoff(synth, channel, pitch);
  }
  render_until(total);
  f.delete_synth(synth);
  f.delete_settings(settings);

  std::vector<float> mono(static_cast<size_t>(total));
  float peak = 0.0f;
  for (size_t i = 0; i < mono.size(); ++i) {
    mono[i] = 0.5f * (left[i] + right[i]);
    peak = std::max(peak, std::fabs(mono[i]));
  }
  if (peak > 0.0f)
    for (float& v : mono) v *= 0.9f / peak;
  return mono;
}

std::vector<float> render_notes(const std::vector<Note>& notes, int sample_rate, std::string* renderer) {
  if (std::optional<std::vector<float>> audio = render_with_fluidsynth(notes, sample_rate)) {
    if (renderer) *renderer = "FluidSynth (" + std::filesystem::path(find_fluidsynth().soundfont).filename().string() + ")";
    return std::move(*audio);
  }
  if (renderer) *renderer = "built-in synthesizer";
  return synthesize_notes(notes, sample_rate);
}

}  // namespace kiln::data
