#include "core/memory_estimate.h"

#include <algorithm>
#include <cmath>

#include "core/allocator.h"
#include "core/error.h"
#include "core/out_of_memory.h"
#include "core/tensor.h"

namespace kiln {
namespace {

// What the allocator's count misses: memory malloc keeps after a free (glibc returns large freed blocks to
// its heap, not to the system), the BLAS library's work buffers, which fill as products grow, the loader's
// batch, samples, the report. Measured against the peak resident size of real runs: 100 to 230 MiB beyond
// the step's count (docs/architecture.md, "Memory").
constexpr double kMarginFactor = 1.2;
constexpr uint64_t kMarginBytes = uint64_t(256) << 20;

// What measuring needs at the least: 96 MiB, and the 128 MiB work buffer OpenBLAS reserves at its first
// product (when that reservation fails under an address-space limit, OpenBLAS waits forever for a buffer).
constexpr uint64_t kRoomToMeasure = uint64_t(224) << 20;

// Refuses, before the probe runs, a run that has not even the room to be measured.
void check_room_to_measure() {
  const MemoryBudget budget = memory_budget();
  KILN_CHECK(budget.free >= kRoomToMeasure, "not enough memory to start training: only ", format_bytes(budget.free),
             " of the ", format_bytes(budget.limit), " limit is left (", budget.source, "), and kiln needs at least ",
             format_bytes(kRoomToMeasure), " beside its model to run one step; raise the limit; nothing was changed");
}

// The largest peak measuring may reach: an eighth of what the limit leaves (1 GiB without a limit).
uint64_t measuring_limit() {
  const uint64_t free = memory_budget().free;
  return free == UINT64_MAX ? uint64_t(1) << 30 : free / 8;
}

// Keeps the cap it set for its lifetime only: the search must not cap the run that follows it.
class CapGuard {
 public:
  CapGuard(Device device, size_t cap) : device_(device), previous_(memory_cap(device)) { set_memory_cap(device, cap); }
  ~CapGuard() { set_memory_cap(device_, previous_); }
  CapGuard(const CapGuard&) = delete;
  CapGuard& operator=(const CapGuard&) = delete;

 private:
  Device device_;
  size_t previous_;
};

}  // namespace

uint64_t StepMemory::at(int64_t batch) const {
  double bytes = fixed + per_example * double(batch);
  if (batch > measured_batch && measured_batch > 0)
    bytes = std::max(bytes, measured_bytes * double(batch) / double(measured_batch));
  return uint64_t(std::max(0.0, bytes));
}

uint64_t measured_peak(const BatchStep& probe, int64_t batch) {
  const Device cpu = Device::cpu();
  const size_t before = memory_counters(cpu).allocated;
  reset_memory_peak(cpu);
  probe(batch);
  const size_t peak = memory_counters(cpu).peak;
  return peak > before ? peak - before : 0;
}

StepMemory measure_step_memory(const BatchStep& probe, int64_t largest, uint64_t max_bytes, int64_t small) {
  int64_t s = small;
  double lower = double(measured_peak(probe, s)), upper = double(measured_peak(probe, 2 * s));
  while (upper < 1.8 * lower && 2 * s < largest && upper < double(max_bytes) && s < (int64_t(1) << 20)) {
    s *= 2;
    lower = upper;
    upper = double(measured_peak(probe, 2 * s));
  }
  StepMemory m;
  m.per_example = std::max(0.0, (upper - lower) / double(s));
  m.fixed = std::max(0.0, lower - m.per_example * double(s));
  m.measured_batch = 2 * s;
  m.measured_bytes = upper;
  return m;
}

uint64_t run_needs(const StepMemory& step, int64_t batch, uint64_t state_bytes) {
  return uint64_t(double(step.at(batch) + state_bytes) * kMarginFactor) + kMarginBytes;
}

int64_t largest_batch_within(const StepMemory& step, uint64_t state_bytes, uint64_t free_bytes) {
  int64_t fits = 0, fails = (int64_t(1) << 20) + 1;  // needs() grows with the batch: bisect
  while (fails - fits > 1) {
    const int64_t middle = fits + (fails - fits) / 2;
    (run_needs(step, middle, state_bytes) <= free_bytes ? fits : fails) = middle;
  }
  return fits;
}

void check_run_fits(const StepMemory& step, int64_t batch, uint64_t state_bytes, const MemoryBudget& budget) {
  const uint64_t needs = run_needs(step, batch, state_bytes);
  if (needs <= budget.free) return;
  const int64_t fits = largest_batch_within(step, state_bytes, budget.free);
  KILN_FAIL("not enough memory: this run needs about ", format_bytes(needs), " more at --batch ", batch,
            " (measured: ", format_bytes(step.at(batch)), " for a step, ", format_bytes(state_bytes),
            " of optimizer state, plus a margin), but only ", format_bytes(budget.free), " of the ",
            format_bytes(budget.limit), " limit is left (", budget.source, "); ",
            fits > 0 ? "--batch " + std::to_string(fits) + " fits (or --batch auto)"
                     : std::string("not even --batch 1 fits: use a smaller model or raise the limit"),
            "; nothing was changed");
}

void check_training_memory(const BatchStep& probe, Device device, int64_t batch, uint64_t state_bytes) {
  if (!device.is_cpu()) return;
  check_room_to_measure();
  const StepMemory step = measure_step_memory(probe, batch, measuring_limit());
  check_run_fits(step, batch, state_bytes, memory_budget());  // after the probe: its threads are counted
}

void cap_cpu_memory_at_limit() {
  const MemoryBudget budget = memory_budget();
  if (budget.free == UINT64_MAX) return;
  set_memory_cap(Device::cpu(), size_t(memory_counters(Device::cpu()).allocated + budget.free));
}

int64_t choose_auto_batch(const BatchStep& probe, Device device, int64_t upper, uint64_t state_bytes) {
  int64_t batch = 0;
  if (device.is_cpu()) {
    // Under a cap of what the limit leaves (less the optimizer's state and the margin), so that running out
    // is kiln's exception rather than the kernel's kill; started at the estimate, so no step is run that
    // the estimate already rules out.
    check_room_to_measure();
    const StepMemory step = measure_step_memory(probe, upper, measuring_limit());
    const MemoryBudget budget = memory_budget();
    const int64_t estimate = largest_batch_within(step, state_bytes, budget.free);
    if (estimate == 0) check_run_fits(step, 1, state_bytes, budget);  // throws, with the numbers
    const uint64_t room = budget.free > run_needs({}, 0, state_bytes) ? budget.free - run_needs({}, 0, state_bytes) : 0;
    const size_t held = memory_counters(device).allocated;
    const size_t cap = budget.free == UINT64_MAX ? 0 : size_t(held + uint64_t(double(room) / kMarginFactor));
    CapGuard guard(device, cap);
    batch = largest_fitting_batch(std::min(upper, estimate), device, probe);
  } else {
    // The optimizer's state is held aside while searching: the first real step allocates it.
    const Tensor reserved = empty({int64_t(state_bytes / 4) + 1}, {.device = device});
    batch = largest_fitting_batch(upper, device, probe);
  }
  return batch;
}

}  // namespace kiln
