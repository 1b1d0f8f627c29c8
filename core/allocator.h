// Raw memory for tensors: an allocator per device and byte copies between devices.
// The CPU allocator returns 64-byte aligned blocks. The CUDA allocator here is the plain one
// (cudaMalloc/cudaFree); the caching allocator of the CUDA backend replaces it behind this interface.
// The CPU allocator counts the bytes it has handed out (and their peak: what a step needs, measured) and
// can be capped, so that out-of-memory is an exception that can be caught and tested on any machine.
// Large CPU blocks are cached for reuse (bounded; see set_cpu_cache_limit), as the GPU's are.
#pragma once
#include <cstddef>

#include "core/caching_allocator.h"
#include "core/device.h"
#include "core/out_of_memory.h"

namespace kiln {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;            // throws kiln::OutOfMemory on failure, naming the size
  virtual void deallocate(void* ptr, size_t bytes) noexcept = 0;
};

Allocator& allocator_for(Device device);

// Bytes in tensors now and at most since the last reset_memory_peak, on `device` (the CPU's allocator,
// or the CUDA caching allocator's).
// Also what the allocator keeps cached for reuse, not in tensors, and how many allocations it served so.
struct MemoryCounters {
  size_t allocated = 0;
  size_t peak = 0;
  size_t cached = 0;
  uint64_t cache_hits = 0;
  size_t handed_out = 0;  // CPU only: bytes of every allocation since the process started (memory traffic)
};
MemoryCounters memory_counters(Device device);
void reset_memory_peak(Device device);
// Caps the bytes kiln's allocator of `device` holds (0: no cap): an allocation beyond it throws
// kiln::OutOfMemory, as a full device would. `--batch auto` on the CPU searches under a cap set from the
// process's memory limit (core/memory_limit.h); the tests use it to run out of memory on purpose.
void set_memory_cap(Device device, size_t bytes);
size_t memory_cap(Device device);
// Gives memory kept for reuse back to the system (the caching allocator's free blocks, GPU or CPU).
void release_cached_memory(Device device);
// The CPU cache keeps freed blocks of 64 KiB and more for reuse, at most `bytes` of them (default 1 GiB;
// 0: none, every block goes back to the system when freed). Builds with AddressSanitizer never cache
// (it could not see a use after free of a cached block); there this does nothing and the limit reads 0.
void set_cpu_cache_limit(size_t bytes);
size_t cpu_cache_limit();
AllocatorStats cpu_cache_stats();  // the CPU cache's own statistics (its blocks of 64 KiB and more)
bool cpu_cache_built_in();         // false in AddressSanitizer builds (GCC's or clang's), which cache nothing

// Copies `bytes` between any two devices (host↔device, device↔device, host↔host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// True when kiln was built with CUDA and at least one device is visible.
bool cuda_is_available();
int cuda_device_count();

}  // namespace kiln
