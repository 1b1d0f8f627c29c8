// Raw memory for tensors: an allocator per device and byte copies between devices.
// The CPU allocator returns 64-byte aligned blocks. The CUDA allocator here is the plain one
// (cudaMalloc/cudaFree); the caching allocator of the CUDA backend replaces it behind this interface.
#pragma once
#include <cstddef>

#include "core/device.h"

namespace kiln {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;            // throws kiln::Error on failure, naming the size
  virtual void deallocate(void* ptr, size_t bytes) noexcept = 0;
};

Allocator& allocator_for(Device device);

// Copies `bytes` between any two devices (host↔device, device↔device, host↔host).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// True when kiln was built with CUDA and at least one device is visible.
bool cuda_is_available();
int cuda_device_count();

}  // namespace kiln
