// The check that tensors read from a file hold only finite numbers: weights of a diverged run or a
// damaged file hold NaN or Inf, and a model must neither sample from nor resume into them. The general
// safetensors reader loads values as they are (a file may hold Inf on purpose); the loaders of weights
// and checkpoints call this.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace kiln {

// Throws kiln::Error "<where>: tensor '<name>' holds nan at element 3 of 12 (and 2 more values that are
// not finite): ..." for the first floating-point tensor (F32, F64, BF16, F16; contiguous, on the CPU)
// with a NaN or ±Inf in it. Tensors of other dtypes are not looked at. Names are quoted with
// kiln::printable.
void check_finite_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& where);

}  // namespace kiln
