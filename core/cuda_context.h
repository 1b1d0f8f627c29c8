// The CUDA execution context, seen from plain C++ (no CUDA headers needed): the current stream of
// each device, device synchronization, memory statistics of the caching allocator, and the numeric
// switches (TF32, deterministic algorithms). Every kiln kernel launches on the current stream, and
// nothing here synchronizes unless asked: that keeps a training step free of host-device syncs.
// In a build without CUDA these functions throw kiln::Error (the switches work everywhere).
#pragma once
#include <cstdint>

#include "core/caching_allocator.h"

namespace kiln::cuda {

// An opaque cudaStream_t.
using Stream = void*;

// The stream kiln launches on for `device`: a non-blocking stream kiln creates on first use
// (not the legacy default stream, so that a whole step can be captured into a CUDA graph).
Stream current_stream(int device);
void set_current_stream(int device, Stream stream);
// Waits until all work queued on the device's current stream is done.
void synchronize(int device);
// The current device (cudaGetDevice) and making `device` current for the calling thread.
int current_device();
void set_device(int device);
// Makes `device` current if it is not already (cheap when it is): ops call it before launching.
void use_device(int device);

// The caching allocator's numbers for a device, and returning its cached blocks to the driver.
AllocatorStats memory_stats(int device);
void reset_peak_memory_stats(int device);
void empty_cache(int device);
// A cap on the bytes the device's caching allocator reserves (0: none); see CachingAllocator::set_cap.
void set_memory_cap(int device, size_t bytes);
size_t memory_cap(int device);
// Private memory pools of the caching allocator for CUDA-graph capture (core/cuda_graph.h): while
// `pool` captures, allocations on the device's current stream come from it (CachingAllocator::begin_capture).
CachingAllocator::PoolId create_memory_pool(int device);
void begin_pool_capture(int device, CachingAllocator::PoolId pool);
void end_pool_capture(int device);
void release_memory_pool(int device, CachingAllocator::PoolId pool);

}  // namespace kiln

namespace kiln {

// TF32 tensor-core math for float32 matrix products and convolutions: off by default (exact fp32,
// as PyTorch's torch.backends.cuda.matmul.allow_tf32 = False); turn on for ~7× faster GEMMs with
// a 10-bit mantissa in the products.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Deterministic mode: cuDNN picks only deterministic algorithms and kiln's kernels avoid atomics
// whose order changes results, so two runs give bit-identical results (at some cost in speed).
void set_deterministic(bool deterministic);
bool deterministic();

}  // namespace kiln
