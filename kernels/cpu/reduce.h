// CPU reductions: a fast path for contiguous sums beside the reference loops. The input is a strided
// view; `dims` (sorted, unique) are reduced and the contiguous output holds one value per kept index, in
// row-major order of the kept dims.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace kiln::cpu {

enum class ReduceKind { Sum, Max, Min };

// out[k] = Σ / max / min over the reduced dims; accumulates in double.
void reduce(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
            const std::vector<int64_t>& dims, void* out);

// The two implementations behind reduce, for the tests and the kernel lab: reduce_strided is the plain
// reference (for_each_reduced, one double sum per output); reduce_contiguous the fast path for sums of a
// contiguous input over its last dims (vectorized runs, OpenMP across outputs or across chunks of one long
// run) or its first dims (column sums), which returns false, doing nothing, for anything else.
void reduce_strided(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides,
                    const void* x, const std::vector<int64_t>& dims, void* out);
bool reduce_contiguous(ReduceKind kind, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides,
                       const void* x, const std::vector<int64_t>& dims, void* out);

// Along one dim (of non-zero size): the value and index of the max (or min) for every kept index.
// The first index wins among ties; a NaN wins over numbers (like PyTorch). `values` may be null.
void arg_reduce(bool is_max, DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
                int64_t dim, void* values, int64_t* indices);
// dx (contiguous, `shape`) = dy[k] at the index arg_reduce chose for output k, 0 elsewhere; dy contiguous.
void arg_reduce_backward(DType dtype, const std::vector<int64_t>& shape, int64_t dim, const int64_t* indices,
                         const void* dy, void* dx);

// out[k] = Σ (x − mean)² / max(0, n − correction) over the reduced dims (n elements), or its square root
// when take_sqrt. Two passes in double (mean first), which is stabler than Σx² − n·mean².
void variance(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
              const std::vector<int64_t>& dims, double correction, bool take_sqrt, void* out);

// out[k] = m + ln Σ e^{x − m} over the reduced dims with m = max x (0 where m is ±∞), so no term overflows.
void logsumexp(DType dtype, const std::vector<int64_t>& shape, const int64_t* strides, const void* x,
               const std::vector<int64_t>& dims, void* out);

// Calls fn(out_index, in_offset, index_within_group) for every input element, grouped so that all
// elements reduced into out_index come consecutively. The building block of every reduction.
template <class F>
void for_each_reduced(const std::vector<int64_t>& shape, const int64_t* strides, const std::vector<int64_t>& dims, F&& fn);

}  // namespace kiln::cpu

#include "kernels/cpu/reduce_impl.h"
