// Shapes and strides: the index arithmetic every tensor view rests on.
// Pure functions on small integer vectors; no memory, no devices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

// Wraps a possibly negative dim into [0, ndim); throws naming the op when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Sorted, unique, wrapped dims; an empty list means "all dims".
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

// NumPy/PyTorch broadcasting of two shapes; throws naming the op and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides that make a tensor of `shape`/`strides` appear with `target` shape (0 stride on broadcast dims).
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target);

// The shape after reducing `dims` (wrapped), keeping them as size 1 when keepdim.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim);

}  // namespace kiln
