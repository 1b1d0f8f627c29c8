// Checks of the values a saved optimizer or EMA state holds, for their load_state_tensors: a state comes
// from a file (a checkpoint) and may be damaged or edited, so a count must be a whole number in range, a
// rate finite, an index a parameter's. Each failure is a kiln::Error naming the state's key.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace kiln {

// The value of the one-element tensor `t` saved under `key` as a count (a step number): a whole number
// from 0 to 2^53 (exactly representable in a double), never NaN or Inf.
int64_t saved_count(const Tensor& t, const std::string& key);

// The value of the one-element tensor `t` saved under `key` as a finite real number.
double saved_real(const Tensor& t, const std::string& key);

// The index written as decimal digits `digits` in the key `key`, which must be below `size` (the number
// of `what`s there are: "parameter", "tensor"); any number of digits is refused with a message, never a
// crash.
size_t saved_index(const std::string& digits, const std::string& key, size_t size, const char* what);

}  // namespace kiln
