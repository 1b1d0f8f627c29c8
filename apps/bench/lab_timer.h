// How the kernel lab times a kernel: the median of repeated runs, each after the last-level cache (the L2 on a
// GPU) was flushed by writing a buffer larger than it; CUDA events on the GPU, the wall clock on the CPU. Also the
// device's copy bandwidth (the reference of memory-bound families) and the machine description for --json.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "apps/bench/bench_report.h"  // median
#include "core/device.h"

namespace kiln::apps::bench {

class LabTimer {
 public:
  // quick: a smaller CPU flush buffer (32 MiB), for the CI test whose timings are only indicative.
  explicit LabTimer(Device device, bool quick = false);
  ~LabTimer();
  LabTimer(const LabTimer&) = delete;
  LabTimer& operator=(const LabTimer&) = delete;

  // Milliseconds of each timed run of fn: `warmup` untimed runs, then runs each after a cache flush, at least
  // min_reps and at most max_reps, stopping early once budget_s seconds of timed runs have passed.
  std::vector<double> time_runs(const std::function<void()>& fn, int warmup, int min_reps, int max_reps,
                                double budget_s);
  // Waits until the device has finished the work queued so far (nothing to wait for on the CPU).
  void synchronize();
  // GB/s (bytes read + written, 1e9) of a plain copy of `bytes` (a float copy loop, the faster of one thread and all OpenMP threads /
  // cudaMemcpyAsync device to device), the median of `reps` runs.
  double copy_bandwidth_gbs(size_t bytes, int reps);

  size_t flush_bytes() const { return flush_bytes_; }
  std::string clock() const;  // "CUDA events" or "wall clock"
  // name → value pairs describing the machine (CPU, threads, BLAS; GPU, driver, CUDA and cuDNN versions).
  std::vector<std::pair<std::string, std::string>> machine_info() const;

 private:
  void flush();
  Device device_;
  size_t flush_bytes_ = 0;
  void* flush_buffer_ = nullptr;
  unsigned flush_round_ = 0;
  void* start_event_ = nullptr;
  void* stop_event_ = nullptr;
};


}  // namespace kiln::apps::bench
