// A soundfont kiln cannot use ($KILN_SOUNDFONT missing, a folder, not a SoundFont 2 file, or one
// FluidSynth fails to load): the built-in synthesizer plays, with one kiln warning naming the variable
// and the file, and none of FluidSynth's own messages.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>

#include "data/fluidsynth_render.h"
#include "data/synth.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::data;

namespace {

// What `fn` writes on stdout and stderr (file descriptors 1 and 2, where FluidSynth logs).
std::string output_of(const std::function<void()>& fn) {
  std::fflush(stdout), std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  const int saved_out = dup(1), saved_err = dup(2);
  dup2(fileno(capture), 1), dup2(fileno(capture), 2);
  fn();
  std::fflush(stdout), std::fflush(stderr);
  dup2(saved_out, 1), dup2(saved_err, 2);
  close(saved_out), close(saved_err);
  std::rewind(capture);
  std::string text;
  for (int c; (c = std::fgetc(capture)) != EOF;) text += char(c);
  std::fclose(capture);
  return text;
}

// KILN_SOUNDFONT set for the scope, restored after.
struct SoundfontVariable {
  explicit SoundfontVariable(const std::string& value) {
    if (const char* old = std::getenv("KILN_SOUNDFONT")) had = true, previous = old;
    setenv("KILN_SOUNDFONT", value.c_str(), 1);
  }
  ~SoundfontVariable() { had ? setenv("KILN_SOUNDFONT", previous.c_str(), 1) : unsetenv("KILN_SOUNDFONT"); }
  bool had = false;
  std::string previous;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

const std::vector<Note> kNotes = {{69, 100, 0.0, 0.25, 0}};

}  // namespace

TEST_CASE("an unusable KILN_SOUNDFONT gives one warning and the built-in synthesizer", "[data][audio]") {
  const auto dir = test::fresh_dir("soundfont", "unusable");
  const std::string missing = (dir / "missing.sf2").string(), folder = dir.string(),
                    garbage = (dir / "garbage.sf2").string(), damaged = (dir / "damaged.sf2").string();
  write_bytes(garbage, std::string(200, '\x8e'));
  // The right header, then nonsense: only FluidSynth itself can tell.
  write_bytes(damaged, std::string("RIFF\x20\x00\x00\x00sfbkLIST\xff\xff\xff\x7f", 20) + std::string(40, 'x'));
  struct Case {
    std::string path, why;
  };
  for (const Case& c : {Case{missing, "does not exist"}, Case{folder, "is a folder"},
                        Case{garbage, "is not a SoundFont 2 file"}, Case{damaged, "FluidSynth cannot load it"}}) {
    INFO(c.path);
    SoundfontVariable variable(c.path);
    const FluidSynthSetup setup = find_fluidsynth();
    CHECK_FALSE((setup.available && c.why != "FluidSynth cannot load it"));
    if (!setup.available && setup.why_not.find("not installed") != std::string::npos) {
      WARN("FluidSynth not installed: only the fallback is checked");
      CHECK(render_notes(kNotes, 22050) == synthesize_notes(kNotes, 22050));
      continue;
    }
    if (!setup.available) CHECK(setup.why_not.rfind("KILN_SOUNDFONT='" + c.path + "' ", 0) == 0);
    std::string renderer;
    std::vector<float> audio;
    const std::string first = output_of([&] { audio = render_notes(kNotes, 22050, &renderer); });
    CHECK(renderer == "built-in synthesizer");
    CHECK(audio == synthesize_notes(kNotes, 22050));
    // One line: kiln's, naming the variable, the file and what plays instead; nothing from FluidSynth.
    CHECK(first.rfind("kiln: warning: KILN_SOUNDFONT='" + c.path + "'", 0) == 0);
    CHECK(first.find(c.why) != std::string::npos);
    const std::string tail = "; the built-in synthesizer plays instead\n";
    CHECK((first.size() > tail.size() && first.compare(first.size() - tail.size(), tail.size(), tail) == 0));
    CHECK(std::count(first.begin(), first.end(), '\n') == 1);
    // Said once per process, not at every sample.
    CHECK(output_of([&] { render_notes(kNotes, 22050); }) == "");
  }
}
