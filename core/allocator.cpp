#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/memory_limit.h"

namespace kiln {
#if KILN_HAVE_CUDA
namespace cuda {
Allocator& device_allocator(int device);  // core/cuda_context.cpp: the caching allocator
}
#endif
namespace {

constexpr size_t kCpuAlignment = 64;  // a cache line, and enough for AVX-512 loads

size_t rounded_cpu_size(size_t bytes) { return (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment; }

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    const size_t rounded = rounded_cpu_size(bytes);
    const size_t now = allocated_.fetch_add(rounded) + rounded;
    const size_t cap = cap_.load();
    void* p = cap != 0 && now > cap ? nullptr : std::aligned_alloc(kCpuAlignment, rounded);
    if (p == nullptr) {
      allocated_.fetch_sub(rounded);
      throw OutOfMemory(detail::concat("out of CPU memory: could not allocate ", format_bytes(bytes), " (", bytes,
                                       " bytes) with ", format_bytes(now - rounded), " in tensors",
                                       cap != 0 ? " under kiln's cap of " + format_bytes(cap) : std::string()));
    }
    handed_out_.fetch_add(rounded);
    size_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    return p;
  }
  void deallocate(void* ptr, size_t bytes) noexcept override {
    if (ptr == nullptr) return;
    allocated_.fetch_sub(rounded_cpu_size(bytes));
    std::free(ptr);
  }
  MemoryCounters counters() const { return {allocated_.load(), peak_.load(), handed_out_.load()}; }
  void reset_peak() { peak_.store(allocated_.load()); }
  void set_cap(size_t bytes) { cap_.store(bytes); }
  size_t cap() const { return cap_.load(); }

 private:
  std::atomic<size_t> allocated_{0}, peak_{0}, cap_{0}, handed_out_{0};
};

CpuAllocator& cpu_allocator() {
  static CpuAllocator cpu;
  return cpu;
}


}  // namespace

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
#if KILN_HAVE_CUDA
  return cuda::device_allocator(device.index);
#else
  KILN_FAIL("device ", device.str(), " requested but this kiln was built without CUDA");
#endif
}

MemoryCounters memory_counters(Device device) {
  if (device.is_cpu()) return cpu_allocator().counters();
#if KILN_HAVE_CUDA
  const AllocatorStats stats = cuda::memory_stats(device.index);
  return {stats.allocated, stats.peak_allocated};
#else
  KILN_FAIL("device ", device.str(), " requested but this kiln was built without CUDA");
#endif
}

void reset_memory_peak(Device device) {
  if (device.is_cpu()) return cpu_allocator().reset_peak();
#if KILN_HAVE_CUDA
  cuda::reset_peak_memory_stats(device.index);
#endif
}

void set_memory_cap(Device device, size_t bytes) {
  if (device.is_cpu()) return cpu_allocator().set_cap(bytes);
#if KILN_HAVE_CUDA
  cuda::set_memory_cap(device.index, bytes);
#else
  KILN_FAIL("device ", device.str(), " requested but this kiln was built without CUDA");
#endif
}

size_t memory_cap(Device device) {
  if (device.is_cpu()) return cpu_allocator().cap();
#if KILN_HAVE_CUDA
  return cuda::memory_cap(device.index);
#else
  return 0;
#endif
}

void release_cached_memory(Device device) {
#if KILN_HAVE_CUDA
  if (device.is_cuda()) cuda::empty_cache(device.index);
#else
  (void)device;
#endif
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  // Ordered on the current stream of the GPU side, then waited for: a copy to or from the host is a
  // point where the user asked for values (and a pageable host buffer may be freed right after).
  if (src_device.is_cuda() && dst_device.is_cuda() && src_device.index != dst_device.index)
    cuda::synchronize(src_device.index);
  int device = dst_device.is_cuda() ? dst_device.index : src_device.index;
  auto stream = static_cast<cudaStream_t>(cuda::current_stream(device));
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
#else
  KILN_FAIL("copy between ", src_device.str(), " and ", dst_device.str(), ": this kiln was built without CUDA");
#endif
}

int cuda_device_count() {
#if KILN_HAVE_CUDA
  static int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

bool cuda_is_available() { return cuda_device_count() > 0; }

}  // namespace kiln
