#include "core/batch_retry.h"

#include <new>
#include <optional>

#include "core/allocator.h"
#include "core/out_of_memory.h"

namespace kiln {
namespace {

// Runs step(batch): the out-of-memory message when it ran out, nullopt when it ran.
std::optional<std::string> try_step(int64_t batch, Device device, const BatchStep& step) {
  try {
    step(batch);
    return std::nullopt;
  } catch (const OutOfMemory& e) {
    release_cached_memory(device);
    return e.message();
  } catch (const std::bad_alloc&) {
    release_cached_memory(device);
    return std::string("std::bad_alloc: an allocation outside kiln's allocators failed");
  }
}

}  // namespace

int64_t retry_with_smaller_batch(int64_t batch, Device device, const BatchStep& step, int64_t min_batch,
                                 const RetryNotice& notice) {
  KILN_CHECK(batch >= 1 && min_batch >= 1 && min_batch <= batch, "retry_with_smaller_batch: batch ", batch,
             " and min_batch ", min_batch, " must satisfy 1 <= min_batch <= batch");
  for (;;) {
    std::optional<std::string> failure = try_step(batch, device, step);
    if (!failure) return batch;
    if (batch == min_batch)
      throw OutOfMemory(detail::concat(*failure, "; a batch of ", batch, " did not fit either"));
    if (notice) notice(batch, *failure);
    batch = std::max(min_batch, batch / 2);
  }
}

int64_t largest_fitting_batch(int64_t upper, Device device, const BatchStep& step) {
  KILN_CHECK(upper >= 1, "largest_fitting_batch: upper bound ", upper, " must be at least 1");
  int64_t failed = 0;  // the smallest batch known not to fit (0: none yet)
  int64_t fits = upper;
  std::optional<std::string> failure;
  while ((failure = try_step(fits, device, step))) {
    if (fits == 1) throw OutOfMemory(detail::concat(*failure, "; not even a batch of 1 fits"));
    failed = fits;
    fits /= 2;
  }
  while (failed != 0 && failed - fits > std::max<int64_t>(1, fits / 8)) {
    const int64_t middle = fits + (failed - fits) / 2;
    if (try_step(middle, device, step))
      failed = middle;
    else
      fits = middle;
  }
  return fits;
}

}  // namespace kiln
