// Whether a training run fits in memory, decided before it allocates its step or touches its run folder.
// What one step needs is measured, not guessed: a forward and backward pass of a throwaway copy of the
// run's model (the probe) runs at growing batches while the CPU allocator counts its peak bytes. At small
// batches the peak is the gradients' (a plateau); the batch doubles until the peak grows with it (nearly
// doubles), or reaches the batch asked for, or an eighth of the memory left. The line through the last
// two points gives the bytes up to the larger batch; beyond it, the bytes scaled in proportion from there
// (an upper bound of that line), so an extrapolation errs on the safe side. The optimizer's state, which
// the first step allocates, is added from the parameter count. The budget is what the tightest limit leaves
// (core/memory_limit.h). `--batch auto` searches for the largest batch by trying the probe downward on
// out-of-memory (core/batch_retry.h): on a GPU against the device's memory, on the CPU under an allocator
// cap set from the memory limit, so that the same search is exercised and tested without a GPU.
#pragma once
#include <cstdint>
#include <string>

#include "core/batch_retry.h"
#include "core/device.h"
#include "core/memory_limit.h"

namespace kiln {

// Bytes one step allocates above what the run holds before it: fixed + per_example · batch.
struct StepMemory {
  double fixed = 0.0;            // the line through the last two measurements
  double per_example = 0.0;
  int64_t measured_batch = 0;    // the largest batch measured, and its peak bytes
  double measured_bytes = 0.0;
  uint64_t at(int64_t batch) const;
};

// The peak bytes of kiln's CPU allocator above its level at the start, over probe(batch).
uint64_t measured_peak(const BatchStep& probe, int64_t batch);
// The measurement described above, from batch `small` up to at most `largest` (the batch asked for) and a
// peak of `max_bytes`.
StepMemory measure_step_memory(const BatchStep& probe, int64_t largest, uint64_t max_bytes, int64_t small = 2);

// What the run needs at `batch` (the step, plus `state_bytes` the first optimizer step allocates, plus a
// margin for what the allocator does not see: malloc's own overhead, kernels' scratch buffers), and the
// largest batch that fits `budget` (0 when not even 1 does).
uint64_t run_needs(const StepMemory& step, int64_t batch, uint64_t state_bytes);
int64_t largest_batch_within(const StepMemory& step, uint64_t state_bytes, uint64_t free_bytes);

// Throws kiln::Error when a CPU run at `batch` would not fit the budget: "needs ~X at --batch B, but only
// Y of the limit Z (source) is left; --batch N fits". Called before the run folder is created or changed.
void check_run_fits(const StepMemory& step, int64_t batch, uint64_t state_bytes, const MemoryBudget& budget);

// The whole check for a run on `device`: measures the probe and checks `batch` on the CPU (a GPU's own
// out-of-memory is an exception, not the kernel's kill, so there the step itself reports it).
void check_training_memory(const BatchStep& probe, Device device, int64_t batch, uint64_t state_bytes);

// Caps kiln's CPU allocator at what it holds plus what the tightest memory limit leaves now (no cap when
// there is no limit): past it an allocation throws kiln::OutOfMemory, which kiln reports, where the
// kernel would otherwise kill the process without a word (exit 137) once the pages are touched.
void cap_cpu_memory_at_limit();

// `--batch auto`: the largest batch up to `upper` whose probe step runs (see the header comment).
// On the CPU the search starts no higher than the measured estimate allows.
int64_t choose_auto_batch(const BatchStep& probe, Device device, int64_t upper, uint64_t state_bytes);

}  // namespace kiln
