// What every kiln CUDA kernel launch needs: the stream to launch on (the current stream of the
// current device) and grid sizes for grid-stride loops.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda_check.h"
#include "core/cuda_context.h"

namespace kiln::cuda {

inline cudaStream_t launch_stream() { return static_cast<cudaStream_t>(current_stream(current_device())); }

constexpr int kBlock = 256;
// Blocks for a grid-stride loop over n elements (capped: each thread then does several).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  return unsigned(std::clamp<int64_t>((n + block - 1) / block, 1, 65535));
}

}  // namespace kiln::cuda
