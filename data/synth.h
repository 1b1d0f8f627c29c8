// A small built-in synthesizer that renders notes to audio, so generated music can be heard without
// FluidSynth: each note is a few decaying harmonics of its pitch (a plucked, piano-like tone) under an
// attack/release envelope; the mix is normalized to a peak of 0.9.
#pragma once
#include <vector>

#include "data/midi_tokens.h"

namespace kiln::data {

// Mono samples at `sample_rate` Hz covering every note plus a short tail.
std::vector<float> synthesize_notes(const std::vector<Note>& notes, int sample_rate = 22050);

}  // namespace kiln::data
