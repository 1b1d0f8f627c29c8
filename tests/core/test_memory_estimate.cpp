// Out-of-memory as an exception on the CPU (an allocator cap), the batch retry and the --batch auto
// search over it, and the measured estimate of a step with the refusal it leads to.
#include <new>

#include "core/allocator.h"
#include "core/batch_retry.h"
#include "core/memory_estimate.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

constexpr int64_t kMiB = int64_t(1) << 20;
const Device cpu = Device::cpu();

// Caps kiln's CPU allocator at what it holds now plus `room` bytes, for the test's scope.
struct CpuCap {
  explicit CpuCap(size_t room) { set_memory_cap(cpu, memory_counters(cpu).allocated + room); }
  ~CpuCap() { set_memory_cap(cpu, 0); }
};

// A step that holds `batch` MiB at once.
void mib_step(int64_t batch) { Tensor t = empty({batch * kMiB / 4}); }

}  // namespace

TEST_CASE("memory: the CPU allocator counts bytes and peaks, and its cap throws OutOfMemory", "[memory]") {
  const size_t before = memory_counters(cpu).allocated;
  reset_memory_peak(cpu);
  {
    Tensor a = empty({kMiB / 4});
    CHECK(memory_counters(cpu).allocated == before + kMiB);
  }
  CHECK(memory_counters(cpu).allocated == before);
  CHECK(memory_counters(cpu).peak >= before + kMiB);
  CpuCap cap(2 * kMiB);
  Tensor fits = empty({kMiB / 4});
  CHECK_THROWS_AS(empty({2 * kMiB / 4}), OutOfMemory);
  CHECK_THROWS_WITH_TEXT(empty({2 * kMiB / 4}), "out of CPU memory: could not allocate 2 MiB");
  CHECK(memory_counters(cpu).allocated == before + kMiB);  // the failed one is not counted
}

TEST_CASE("memory: retry_with_smaller_batch halves on out-of-memory and leaks nothing", "[memory]") {
  const size_t before = memory_counters(cpu).allocated;
  std::vector<int64_t> failed;
  int64_t ran = 0;
  {
    CpuCap cap(10 * kMiB);
    // An autograd step: inputs, a graph, a backward pass; what a failed attempt built must be freed.
    ran = retry_with_smaller_batch(
        64, cpu,
        [](int64_t batch) {
          Tensor x = randn({batch, kMiB / 16}, {.requires_grad = true});  // batch/4 MiB per tensor
          Tensor y = mul(x, x);
          sum(mul(y, x)).backward();
        },
        1, [&](int64_t batch, const std::string& why) {
          failed.push_back(batch);
          CHECK(why.find("out of CPU memory") != std::string::npos);
        });
  }
  CHECK(ran < 64);
  CHECK(ran >= 4);
  CHECK(failed.size() >= 1);
  CHECK(failed.front() == 64);
  CHECK(memory_counters(cpu).allocated == before);
}

TEST_CASE("memory: retry_with_smaller_batch gives up below min_batch and lets other errors through", "[memory]") {
  CpuCap cap(kMiB);
  CHECK_THROWS_AS(retry_with_smaller_batch(8, cpu, mib_step, 4), OutOfMemory);
  int calls = 0;
  CHECK_THROWS_WITH_TEXT(retry_with_smaller_batch(8, cpu, [&](int64_t) { ++calls; KILN_FAIL("not memory"); }),
                         "not memory");
  CHECK(calls == 1);
  int64_t seen = 0;  // std::bad_alloc (an allocation outside kiln's allocators) is out-of-memory too
  CHECK(retry_with_smaller_batch(8, cpu, [&](int64_t b) { if (b > 2) throw std::bad_alloc(); seen = b; }) == 2);
  CHECK(seen == 2);
}

TEST_CASE("memory: largest_fitting_batch finds the largest batch under a cap", "[memory]") {
  CpuCap cap(10 * kMiB);
  CHECK(largest_fitting_batch(64, cpu, mib_step) == 10);
  CHECK(largest_fitting_batch(7, cpu, mib_step) == 7);
  CpuCap tiny(kMiB / 2);
  CHECK_THROWS_AS(largest_fitting_batch(64, cpu, mib_step), OutOfMemory);
}

TEST_CASE("memory: a step is measured past the gradients' plateau, and extrapolated on the safe side", "[memory]") {
  // 3 MiB of "gradients" at the end of the step, after activations of 1 MiB per example are freed: at
  // small batches the peak is the 3 MiB plateau, which a fit through batches 2 and 4 takes for all.
  const BatchStep step = [](int64_t batch) {
    { Tensor activations = empty({batch * kMiB / 4}); }
    Tensor gradients = empty({3 * kMiB / 4});
  };
  const StepMemory m = measure_step_memory(step, 1 << 20, uint64_t(1) << 30);
  CHECK(m.measured_batch == 8);  // 2: 3, 4: 4, 8: 8 MiB, nearly doubled
  CHECK(m.per_example == Approx(double(kMiB)));
  CHECK(m.at(6) == uint64_t(6 * kMiB));
  CHECK(m.at(100) == uint64_t(100 * kMiB));
  // A plain line (fixed 3 MiB + 1 MiB per example, held together): past the measured batch, the bytes
  // scaled in proportion bound the line from above.
  const StepMemory line = measure_step_memory(
      [](int64_t batch) {
        Tensor fixed = empty({3 * kMiB / 4});
        Tensor per_example = empty({batch * kMiB / 4});
      },
      1 << 20, uint64_t(1) << 30);
  CHECK(line.at(line.measured_batch) == uint64_t((3 + line.measured_batch) * kMiB));
  CHECK(line.at(2 * line.measured_batch) >= uint64_t((3 + 2 * line.measured_batch) * kMiB));
  CHECK(line.at(2 * line.measured_batch) <= uint64_t((6 + 2 * line.measured_batch) * kMiB));
  // Measuring stops at the batch asked for.
  CHECK(measure_step_memory(step, 4, uint64_t(1) << 30).measured_batch == 4);
}

TEST_CASE("memory: a run that does not fit is refused with the numbers and the batch that fits", "[memory]") {
  const StepMemory step{.fixed = 0.0, .per_example = 10.0 * double(kMiB), .measured_batch = 1000,
                        .measured_bytes = 1000 * 10.0 * double(kMiB)};
  const MemoryBudget budget{uint64_t(2) << 30, uint64_t(1) << 30, "RLIMIT_AS (ulimit -v)"};
  const int64_t fits = largest_batch_within(step, 0, budget.free);
  CHECK(fits > 60);
  CHECK(fits < 90);
  CHECK_NOTHROW(check_run_fits(step, fits, 0, budget));
  CHECK_THROWS_WITH_TEXT(check_run_fits(step, fits + 1, 0, budget), "not enough memory");
  try {
    check_run_fits(step, 500, 0, budget);
    FAIL("a run of 5 GiB fitted in 1 GiB");
  } catch (const Error& e) {
    const std::string text = e.what();
    CHECK(text.find("at --batch 500") != std::string::npos);
    CHECK(text.find("of the 2.00 GiB limit is left (RLIMIT_AS (ulimit -v))") != std::string::npos);
    CHECK(text.find("--batch " + std::to_string(fits) + " fits") != std::string::npos);
  }
  CHECK(largest_batch_within(step, uint64_t(2) << 30, budget.free) == 0);  // the state alone is too much
}
