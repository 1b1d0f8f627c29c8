// Helpers shared by the reduction ops (internal to core/ops).
#pragma once
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/tensor.h"
#include "kernels/cpu/reduce.h"

namespace kiln {

// dy (reduced shape, with or without keepdim) broadcast back to the input's shape.
Tensor expand_reduced_grad(const Tensor& dy, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim);
// Wrapped, sorted, unique dims to reduce (empty input: all dims); none for a 0-d tensor.
std::vector<int64_t> reduction_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op);
// The plain forward of a reduction, no autograd. `dims` already wrapped and sorted.
Tensor reduce_forward(cpu::ReduceKind kind, const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);

}  // namespace kiln
