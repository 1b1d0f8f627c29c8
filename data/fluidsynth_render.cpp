#include "data/fluidsynth_render.h"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
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
  // Optional: fluid_set_log_function, and GLib's g_log_set_default_handler (GLib comes with FluidSynth;
  // its libinstpatch, which FluidSynth tries after its own loader, reports a bad file as a GLib
  // "CRITICAL"). They let kiln silence both while a soundfont loads, so that a bad file gives kiln's one
  // warning, not their messages on stderr.
  using LogFunction = void (*)(int, const char*, void*);
  LogFunction (*set_log_function)(int, LogFunction, void*);
  using GLogFunction = void (*)(const char*, int, const char*, void*);
  GLogFunction (*g_set_default_handler)(GLogFunction, void*);
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
    a.set_log_function = reinterpret_cast<decltype(a.set_log_function)>(dlsym(lib, "fluid_set_log_function"));
    // Looked up through the library's handle: found in its dependencies too.
    a.g_set_default_handler = reinterpret_cast<decltype(a.g_set_default_handler)>(dlsym(lib, "g_log_set_default_handler"));
    return ok ? &a : nullptr;
  }();
  return api;
}

const char* soundfont_variable() {
  const char* env = std::getenv("KILN_SOUNDFONT");
  return env && *env ? env : nullptr;
}

std::string find_soundfont() {
  if (const char* env = soundfont_variable()) return env;
  for (const char* path : {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2"})
    if (std::filesystem::exists(path)) return path;
  return "";
}

// Why `path` is no soundfont FluidSynth can load ("" when it looks like one): a SoundFont 2 file is a
// RIFF file of form type "sfbk" (bytes 0–3 "RIFF", 8–11 "sfbk").
std::string soundfont_problem(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "does not exist";
  if (std::filesystem::is_directory(path, ec)) return "is a folder, not a soundfont file";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot be read (") + std::strerror(errno) + ")";
  char head[12] = {};
  in.read(head, sizeof head);
  if (in.gcount() < std::streamsize(sizeof head) || std::string(head, 4) != "RIFF" || std::string(head + 8, 4) != "sfbk")
    return "is not a SoundFont 2 file (it does not start with RIFF....sfbk)";
  return "";
}

// "soundfont 'x'" or "KILN_SOUNDFONT='x'", for messages.
std::string soundfont_name(const std::string& path) {
  const char* env = soundfont_variable();
  return env && path == env ? "KILN_SOUNDFONT='" + path + "'" : "soundfont '" + path + "'";
}

// Each distinct problem once per process: samples are rendered at every --sample-every step.
void warn_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mutex);
  if (said.insert(message).second) std::fprintf(stderr, "kiln: warning: %s\n", message.c_str());
}

void ignore_log(int, const char*, void*) {}
void ignore_glib_log(const char*, int, const char*, void*) {}

// fluid_synth_sfload with FluidSynth's and GLib's logs silenced (where the libraries let kiln), then
// restored (their default handlers take no user data). A file that failed once is not tried again.
int load_soundfont_quietly(const FluidApi& f, void* synth, const std::string& path) {
  static std::mutex mutex;
  static std::set<std::string> failed;
  std::lock_guard<std::mutex> lock(mutex);
  if (failed.count(path)) return -1;
  constexpr int kLevels = 5;  // FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG
  FluidApi::LogFunction previous[kLevels] = {};
  if (f.set_log_function)
    for (int level = 0; level < kLevels; ++level) previous[level] = f.set_log_function(level, ignore_log, nullptr);
  FluidApi::GLogFunction previous_glib = f.g_set_default_handler ? f.g_set_default_handler(ignore_glib_log, nullptr) : nullptr;
  const int id = f.sfload(synth, path.c_str(), 1);
  if (f.g_set_default_handler && previous_glib) f.g_set_default_handler(previous_glib, nullptr);
  if (f.set_log_function)
    for (int level = 0; level < kLevels; ++level) f.set_log_function(level, previous[level], nullptr);
  if (id < 0) failed.insert(path);
  return id;
}

}  // namespace

FluidSynthSetup find_fluidsynth() {
  FluidSynthSetup s;
  s.soundfont = find_soundfont();
  if (!fluid_api())
    s.why_not = std::string(soundfont_variable() ? "KILN_SOUNDFONT is set, but " : "") +
                "libfluidsynth.so.3 is not installed (Debian: apt-get install libfluidsynth3)";
  else if (s.soundfont.empty())
    s.why_not = "no General MIDI soundfont (Debian: apt-get install fluid-soundfont-gm, or set KILN_SOUNDFONT)";
  else if (std::string problem = soundfont_problem(s.soundfont); !problem.empty())
    s.why_not = soundfont_name(s.soundfont) + " " + problem;
  s.available = s.why_not.empty();
  return s;
}

std::optional<std::vector<float>> render_with_fluidsynth(const std::vector<Note>& notes, int sample_rate) {
  const FluidSynthSetup setup = find_fluidsynth();
  if (!setup.available) {
    // Without the library (or any soundfont) the built-in synthesizer is the documented default; a
    // soundfont that was found but is unusable, or asked for and cannot be played, is said.
    if ((fluid_api() && !setup.soundfont.empty()) || soundfont_variable())
      warn_once(setup.why_not + "; the built-in synthesizer plays instead");
    return std::nullopt;
  }
  const FluidApi& f = *fluid_api();
  void* settings = f.new_settings();
  if (!settings) return std::nullopt;
  f.settings_setnum(settings, "synth.sample-rate", double(sample_rate));
  f.settings_setint(settings, "synth.cpu-cores", 1);
  void* synth = f.new_synth(settings);
  if (!synth || load_soundfont_quietly(f, synth, setup.soundfont) < 0) {
    if (synth) {
      warn_once(soundfont_name(setup.soundfont) + ": FluidSynth cannot load it (a damaged SoundFont 2 file?); the "
                "built-in synthesizer plays instead");
      f.delete_synth(synth);
    }
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
