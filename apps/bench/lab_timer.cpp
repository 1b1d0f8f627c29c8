// The kernel lab's clock and cache flush (lab_timer.h): wall clock and a host buffer on the CPU, CUDA events and
// a device buffer on the GPU, both larger than the last-level cache so no version runs on a warm cache.
#include "apps/bench/lab_timer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#include "core/cuda_check.h"
#include "core/error.h"
#include "kernels/cpu/gemm.h"

#if KILN_HAVE_CUDA
#include <cuda_runtime.h>

#include "core/cuda_context.h"
#if KILN_HAVE_CUDNN && __has_include(<cudnn_version.h>)
#include <cudnn_version.h>
#define KILN_LAB_CUDNN_VERSION 1
#endif
#endif

namespace kiln::apps::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The last-level cache of the CPU (glibc's sysconf), or 32 MiB where it does not say.
size_t cpu_last_level_cache_bytes() {
  long bytes = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
  bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (bytes <= 0) bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  return bytes > 0 ? static_cast<size_t>(bytes) : static_cast<size_t>(32) << 20;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(std::min(line.size(), colon + 2));
    }
  return "unknown";
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

#if KILN_HAVE_CUDA
cudaStream_t lab_stream(Device d) { return static_cast<cudaStream_t>(cuda::current_stream(d.index)); }
#endif

}  // namespace

LabTimer::LabTimer(Device device, bool quick) : device_(device) {
  if (device.is_cpu()) {
    // Twice the last-level cache, so that writing it evicts every line a kernel's inputs left there; capped at
    // 256 MiB, since virtual machines may report the whole host's L3 (hundreds of MiB) to each guest.
    const size_t cap = (quick ? static_cast<size_t>(32) : static_cast<size_t>(256)) << 20;
    flush_bytes_ = std::clamp<size_t>(2 * cpu_last_level_cache_bytes(), static_cast<size_t>(16) << 20, cap);
    flush_buffer_ = std::malloc(flush_bytes_);
    KILN_CHECK(flush_buffer_ != nullptr, "kernel lab: cannot allocate the ", flush_bytes_, "-byte cache flush buffer");
    return;
  }
#if KILN_HAVE_CUDA
  cuda::use_device(device.index);
  int l2 = 0;
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device.index));
  flush_bytes_ = std::max<size_t>(2 * static_cast<size_t>(l2), static_cast<size_t>(64) << 20);
  KILN_CUDA_CHECK(cudaMalloc(&flush_buffer_, flush_bytes_));
  cudaEvent_t a, b;
  KILN_CUDA_CHECK(cudaEventCreate(&a));
  KILN_CUDA_CHECK(cudaEventCreate(&b));
  start_event_ = a;
  stop_event_ = b;
#else
  throw Error("kernel lab: this kiln was built without CUDA");
#endif
}

LabTimer::~LabTimer() {
  if (device_.is_cpu()) {
    std::free(flush_buffer_);
    return;
  }
#if KILN_HAVE_CUDA
  KILN_CUDA_CHECK_NOTHROW(cudaFree(flush_buffer_));
  KILN_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(start_event_)));
  KILN_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(stop_event_)));
#endif
}

void LabTimer::flush() {
  const int value = int(++flush_round_ & 0x7f);  // a new value each time: no write can be skipped
  if (device_.is_cpu()) {
    // Ordinary stores of a pattern, not memset: glibc's memset writes large buffers with non-temporal stores,
    // which bypass the cache and so would evict nothing.
    auto* words = static_cast<uint64_t*>(flush_buffer_);
    const int64_t n = int64_t(flush_bytes_ / sizeof(uint64_t));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) words[i] = uint64_t(i) ^ uint64_t(value);
    return;
  }
#if KILN_HAVE_CUDA
  KILN_CUDA_CHECK(cudaMemsetAsync(flush_buffer_, value, flush_bytes_, lab_stream(device_)));
#endif
}

void LabTimer::synchronize() {
#if KILN_HAVE_CUDA
  if (device_.is_cuda()) cuda::synchronize(device_.index);
#endif
}

std::vector<double> LabTimer::time_runs(const std::function<void()>& fn, int warmup, int min_reps, int max_reps,
                                        double budget_s) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize();
  std::vector<double> ms;
  const auto started = Clock::now();
  while (int(ms.size()) < max_reps && (int(ms.size()) < min_reps || seconds_since(started) < budget_s)) {
    flush();
    if (device_.is_cpu()) {
      const auto t0 = Clock::now();
      fn();
      ms.push_back(1e3 * seconds_since(t0));
      continue;
    }
#if KILN_HAVE_CUDA
    const cudaStream_t stream = lab_stream(device_);
    auto* start = static_cast<cudaEvent_t>(start_event_);
    auto* stop = static_cast<cudaEvent_t>(stop_event_);
    KILN_CUDA_CHECK(cudaEventRecord(start, stream));
    fn();
    KILN_CUDA_CHECK(cudaEventRecord(stop, stream));
    KILN_CUDA_CHECK(cudaEventSynchronize(stop));
    float elapsed = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
    ms.push_back(double(elapsed));
#endif
  }
  return ms;
}

double LabTimer::copy_bandwidth_gbs(size_t bytes, int reps) {
  std::vector<double> ms;
  if (device_.is_cpu()) {
    std::unique_ptr<float[]> src(new float[bytes / sizeof(float)]), dst(new float[bytes / sizeof(float)]);
    std::memset(src.get(), 1, bytes);
    std::memset(dst.get(), 0, bytes);  // touch every page before timing
    // A plain loop of float copies with ordinary stores, as kiln's CPU kernels write (glibc's memcpy switches to
    // non-temporal stores at this size, which no kernel uses), on one thread and on all OpenMP threads: the
    // faster counts, since on a loaded machine a parallel loop can be slower than one thread.
    const int64_t n = int64_t(bytes / sizeof(float));
    float* d = dst.get();
    const float* s = src.get();
    const auto one_thread = time_runs(
        [&] {
          for (int64_t i = 0; i < n; ++i) d[i] = s[i];
        },
        1, reps, reps, 1e9);
    ms = time_runs(
        [&] {
#pragma omp parallel for schedule(static)
          for (int64_t i = 0; i < n; ++i) d[i] = s[i];
        },
        1, reps, reps, 1e9);
    if (median(one_thread) < median(ms)) ms = one_thread;
  } else {
#if KILN_HAVE_CUDA
    void* src = nullptr;
    void* dst = nullptr;
    KILN_CUDA_CHECK(cudaMalloc(&src, bytes));
    KILN_CUDA_CHECK(cudaMalloc(&dst, bytes));
    const cudaStream_t stream = lab_stream(device_);
    KILN_CUDA_CHECK(cudaMemsetAsync(src, 1, bytes, stream));
    ms = time_runs([&] { KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream)); }, 2,
                   reps, reps, 1e9);
    KILN_CUDA_CHECK(cudaFree(src));
    KILN_CUDA_CHECK(cudaFree(dst));
#endif
  }
  return 2.0 * double(bytes) / 1e9 / (median(ms) / 1e3);
}

std::string LabTimer::clock() const { return device_.is_cpu() ? "wall clock" : "CUDA events"; }

std::vector<std::pair<std::string, std::string>> LabTimer::machine_info() const {
  char date[32] = "";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::vector<std::pair<std::string, std::string>> info = {
      {"date", date},
      {"cpu", cpu_model()},
      {"hardware_threads", std::to_string(std::thread::hardware_concurrency())},
      {"OMP_NUM_THREADS", env_or("OMP_NUM_THREADS", "unset")},
      {"OPENBLAS_NUM_THREADS", env_or("OPENBLAS_NUM_THREADS", "unset")},
      {"openblas", cpu::blas_available() ? "yes" : "no"},
      {"cache_flush_bytes", std::to_string(flush_bytes_)},
      {"clock", clock()},
  };
#if KILN_HAVE_CUDA
  if (device_.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device_.index) == cudaSuccess) {
      info.emplace_back("gpu", prop.name);
      info.emplace_back("gpu_memory_bytes", std::to_string(prop.totalGlobalMem));
      info.emplace_back("l2_bytes", std::to_string(prop.l2CacheSize));
      info.emplace_back("compute_capability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
    }
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    info.emplace_back("cuda_driver", std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10));
    info.emplace_back("cuda_runtime", std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10));
#ifdef KILN_LAB_CUDNN_VERSION
    info.emplace_back("cudnn_headers", std::to_string(CUDNN_MAJOR) + "." + std::to_string(CUDNN_MINOR) + "." +
                                           std::to_string(CUDNN_PATCHLEVEL));
#else
    info.emplace_back("cudnn_headers", "none");
#endif
  }
#endif
  return info;
}

}  // namespace kiln::apps::bench
