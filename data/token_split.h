// The train/validation split of a token stream (text bytes or MIDI events): the first part trains,
// the rest validates, as the anchors' scripts split their corpora.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln::data {

// (train, validation) int64 tensors: the first ⌊n·(1 − validation_fraction)⌋ ids, and the others.
std::pair<Tensor, Tensor> split_tokens(const std::vector<int64_t>& ids, double validation_fraction);

}  // namespace kiln::data
