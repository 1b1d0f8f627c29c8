// Pieces the sequence-model commands share (kiln train gpt, charrnn, rnnvae): the validation loss over non-overlapping windows, and autoregressive generation.
#pragma once
#include <cstdint>
#include <vector>

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

}  // namespace kiln::apps
