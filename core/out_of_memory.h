// The error an allocation throws when memory runs out, on any device: a kiln::Error of its own type,
// so that `--batch auto` and retry_with_smaller_batch (core/batch_retry.h) can catch exactly this
// failure and try again with less, while every other error still ends the run.
#pragma once
#include <new>
#include <string>

#include "core/error.h"

namespace kiln {

class OutOfMemory : public Error {
 public:
  using Error::Error;
};

// The message for a std::bad_alloc that reached the top of a command (an allocation outside kiln's
// allocators: std::vector, a decoder, a BLAS buffer), naming what kiln was doing.
inline std::string bad_alloc_message(const std::string& doing) {
  return "out of memory while " + doing +
         " (an allocation failed: the memory limit of this process or its container was reached); "
         "free memory, raise the limit, or use a smaller --batch or model";
}

}  // namespace kiln
