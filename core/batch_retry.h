// Recovering from out-of-memory by using fewer examples: retry_with_smaller_batch runs a step and, when
// it runs out of memory (kiln::OutOfMemory from any device's allocator, or std::bad_alloc), gives the
// cached memory back and runs it again with half the batch. What the failed step held is freed as its
// tensors go out of scope (the exception unwinds them) and release_cached_memory returns the caching
// allocator's free blocks to the driver, so the retry starts from the memory the run had before it.
// largest_fitting_batch, the search behind `kiln train --batch auto`, refines the halving by bisection.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/device.h"

namespace kiln {

// step(batch) must leave nothing behind when it throws (tensors in its scope are freed by unwinding).
using BatchStep = std::function<void(int64_t batch)>;
// Called before each retry with the batch that failed and the error's message.
using RetryNotice = std::function<void(int64_t failed_batch, const std::string& why)>;

// Runs step(batch), halving the batch on out-of-memory down to min_batch; returns the batch that ran.
// Rethrows the last out-of-memory error when min_batch does not fit either; other errors pass through.
int64_t retry_with_smaller_batch(int64_t batch, Device device, const BatchStep& step, int64_t min_batch = 1,
                                 const RetryNotice& notice = {});

// The largest batch in [1, upper] for which step(batch) runs without running out of memory, found by
// trying downward (halving), then bisecting between the largest that ran and the smallest that failed
// until they are within an eighth of each other. Throws kiln::OutOfMemory when even 1 does not fit.
int64_t largest_fitting_batch(int64_t upper, Device device, const BatchStep& step);

}  // namespace kiln
