// CPU reference reductions. The input is a strided view; `dims` (sorted, unique) are reduced and the
// contiguous output holds one value per kept index, in row-major order of the kept dims.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cpu {

enum class ReduceKind { Sum, Max, Min };

// out[k] = Σ / max / min over the reduced dims; accumulates in double.
void reduce(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out);

// Calls fn(out_index, in_offset, index_within_group) for every input element, grouped so that all
// elements reduced into out_index come consecutively. The building block of every reduction.
template <class F>
void for_each_reduced(const std::vector<int64_t>& shape, const int64_t* strides, const std::vector<int64_t>& dims, F&& fn);

}  // namespace kiln::cpu

#include "kernels/cpu/reduce_impl.h"
