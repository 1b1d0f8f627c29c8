// Drawing the next token of a sequence model from its logits: temperature scaling and top-k filtering,
// then one draw from the softmax, with a kiln Generator (reproducible from its seed).
#pragma once
#include <cstdint>

#include "core/random.h"
#include "core/tensor.h"

namespace kiln::models {

// logits: [vocab] (any device, float). temperature > 0 (→ 0: greedy); top_k ≤ 0: no filtering.
int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, Generator& generator);

}  // namespace kiln::models
