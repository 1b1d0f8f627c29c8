// Rendering notes to audio through FluidSynth with a General MIDI soundfont, when both are installed
// (Debian: libfluidsynth3 and fluid-soundfont-gm). The library is opened at run time (dlopen), so kiln
// neither needs it to build nor fails without it: render_notes() then uses kiln's built-in synthesizer.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/midi_tokens.h"

namespace kiln::data {

// Where kiln looks: the library libfluidsynth.so.3 (or .so), and the soundfont $KILN_SOUNDFONT, else
// /usr/share/sounds/sf2/FluidR3_GM.sf2, else /usr/share/sounds/sf2/default-GM.sf2. A soundfont that is
// missing, unreadable or not a SoundFont 2 file (RIFF....sfbk) makes FluidSynth unavailable, with why_not
// naming the file (and KILN_SOUNDFONT when it came from there).
struct FluidSynthSetup {
  bool available = false;
  std::string soundfont;  // the .sf2 file found
  std::string why_not;    // when not available: what is missing
};
FluidSynthSetup find_fluidsynth();

// Mono samples (the stereo mix averaged) of the notes played on a General MIDI piano (program 0, or each
// note's channel as given), with a 1.5 s tail, normalized to a peak of 0.9; nullopt when FluidSynth or
// the soundfont is missing or refuses.
std::optional<std::vector<float>> render_with_fluidsynth(const std::vector<Note>& notes, int sample_rate);

// The notes as audio: FluidSynth when available, the built-in synthesizer otherwise. `renderer` (when
// given) receives which one played, for reports: "FluidSynth (FluidR3_GM.sf2)" or "built-in synthesizer".
// A soundfont that cannot be used (see find_fluidsynth, or one FluidSynth fails to load) gives one
// "kiln: warning:" line on stderr per process and problem; FluidSynth's own log is silenced while it
// loads the file.
std::vector<float> render_notes(const std::vector<Note>& notes, int sample_rate, std::string* renderer = nullptr);

}  // namespace kiln::data
