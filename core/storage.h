// A block of memory that one or more tensor views share, with the version counter that autograd
// uses to detect in-place changes to tensors saved for backward.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace kiln {

class Allocator;

class Storage {
 public:
  Storage(size_t bytes, Device device);  // allocates through allocator_for(device)
  // Allocates through a specific allocator (e.g. pinned host memory), which must outlive the storage.
  Storage(size_t bytes, Device device, Allocator& allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  const Allocator* allocator() const { return allocator_; }

  // Bumped by every in-place write through any view of this storage.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  Allocator* allocator_;
  uint64_t version_ = 0;
};

}  // namespace kiln
