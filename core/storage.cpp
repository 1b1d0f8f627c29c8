#include "core/storage.h"

#include "core/allocator.h"

namespace kiln {

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = allocator_for(device).allocate(bytes);
}

Storage::~Storage() {
  if (data_) allocator_for(device_).deallocate(data_, bytes_);
}

}  // namespace kiln
