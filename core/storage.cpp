#include "core/storage.h"

#include "core/allocator.h"

namespace kiln {

Storage::Storage(size_t bytes, Device device) : Storage(bytes, device, allocator_for(device)) {}

Storage::Storage(size_t bytes, Device device, Allocator& allocator)
    : bytes_(bytes), device_(device), allocator_(&allocator) {
  data_ = allocator_->allocate(bytes);
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, bytes_);
}

}  // namespace kiln
