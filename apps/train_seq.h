// Pieces the sequence-model commands share (kiln train gpt, charrnn, rnnvae): the validation loss over non-overlapping windows, and autoregressive generation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/token_data.h"
#include "core/pinned_memory.h"  // upload()
#include "core/random.h"
#include "layers/module.h"

namespace kiln::apps {

// Mean cross-entropy over non-overlapping windows of `context` tokens of the stream (at most max_windows).
double validation_loss(UnaryModule& model, const Tensor& stream, int64_t context, int64_t vocab, Device device,
                       int64_t max_windows);
// `count` new tokens after `tokens`, each drawn from the model's logits at the last position (the input
// is the latest `context` tokens).
std::vector<int64_t> generate(UnaryModule& model, std::vector<int64_t> tokens, int64_t count, int64_t context,
                              double temperature, int64_t top_k, Device device, Generator& g);

// Where sampling starts: text after a line break (or the corpus's first symbol when it has none), music
// at a velocity token.
std::vector<int64_t> sample_prompt(const TokenData& data);
// A token sample written to disk: `stem`.txt for text; `stem`.mid and `stem`.wav for music (rendered by
// FluidSynth when installed, else by kiln's built-in synthesizer: data/fluidsynth_render.h).
struct WrittenSample {
  std::vector<std::string> files;
  std::string text;  // the decoded text (text corpora)
  size_t notes = 0;  // the number of notes (music)
  std::string renderer;  // what rendered the WAV (music)
};
WrittenSample write_token_sample(const std::string& stem, const TokenData& data, const std::vector<int64_t>& tokens);

}  // namespace kiln::apps
