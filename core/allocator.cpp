#include "core/allocator.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/caching_allocator.h"
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

// AddressSanitizer finds a use after free only in memory it has quarantined: under it every CPU block
// comes from malloc and goes straight back to it (no cache).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCpuCacheBuiltIn = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCpuCacheBuiltIn = false;
#else
constexpr bool kCpuCacheBuiltIn = true;
#endif
#else
constexpr bool kCpuCacheBuiltIn = true;
#endif

// Pages of large CPU blocks: mmap'd, so that emptying the cache really gives them back (munmap), and
// page-aligned (beyond the 64 bytes promised).
class CpuPages final : public RawMemory {
 public:
  void* raw_alloc(size_t bytes) override {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  void raw_free(void* ptr, size_t bytes) noexcept override { munmap(ptr, bytes); }
  std::string describe_free() override { return "the system refused the pages"; }
};

// Tensors of at least kCpuCachedBytes keep their pages after they are freed, in a CachingAllocator
// (4 KiB classes up to 1 MiB, then 64 KiB), so that a training step in steady state touches no fresh
// page: each fresh page costs a page fault and zeroing by the kernel. Smaller blocks come from malloc,
// whose own free lists already reuse memory. At most cpu_cache_limit() bytes stay cached.
constexpr size_t kCpuCachedBytes = size_t(64) << 10;
constexpr size_t kDefaultCpuCacheLimit = size_t(1) << 30;
constexpr SizeClasses kCpuSizeClasses{size_t(1) << 20, size_t(4) << 10, size_t(64) << 10};

class CpuAllocator final : public Allocator {
 public:
  CpuAllocator() : cache_(std::make_unique<CpuPages>(), "cpu", kCpuSizeClasses) {
    cache_.set_cache_limit(kCpuCacheBuiltIn ? kDefaultCpuCacheLimit : 0);
  }

  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    // The counters and the cap count bytes in tensors (rounded to 64), cached or not, as before the cache.
    const size_t rounded = rounded_cpu_size(bytes);
    const size_t now = allocated_.fetch_add(rounded) + rounded;
    const size_t cap = cap_.load();
    void* p = nullptr;
    if (cap == 0 || now <= cap) p = uses_cache(rounded) ? cached_alloc(rounded, now, cap) : std::aligned_alloc(kCpuAlignment, rounded);
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
    const size_t rounded = rounded_cpu_size(bytes);
    allocated_.fetch_sub(rounded);
    if (uses_cache(rounded))
      cache_.deallocate(ptr);
    else
      std::free(ptr);
  }
  MemoryCounters counters() const {
    const AllocatorStats cache = cache_.stats();
    return {allocated_.load(), peak_.load(), cache.cached(), cache.cache_hits, handed_out_.load()};
  }
  void reset_peak() { peak_.store(allocated_.load()); }
  void set_cap(size_t bytes) { cap_.store(bytes); }
  size_t cap() const { return cap_.load(); }
  CachingAllocator& cache() { return cache_; }

 private:
  static bool uses_cache(size_t rounded) { return kCpuCacheBuiltIn && rounded >= kCpuCachedBytes; }

  // A cached block when one fits; else fresh pages, after emptying the cache when the tensors and the
  // cache together would pass the cap (the cap bounds what kiln holds, as --batch auto needs) and, when the
  // system refuses the pages, once more after emptying it. nullptr when out of memory.
  void* cached_alloc(size_t rounded, size_t tensors_after, size_t cap) {
    if (void* p = cache_.reuse(rounded, 0)) return p;
    if (cap != 0 && tensors_after + cache_.stats().cached() > cap) cache_.empty_cache();
    try {
      return cache_.allocate(rounded, 0);
    } catch (const OutOfMemory&) {
      return nullptr;  // the message above, the same as for a block from malloc
    }
  }

  std::atomic<size_t> allocated_{0}, peak_{0}, cap_{0}, handed_out_{0};
  CachingAllocator cache_;
};

CpuAllocator& cpu_allocator() {
  static auto* cpu = new CpuAllocator();  // never destroyed: tensors in static storage free after main returns
  return *cpu;
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
  return {stats.allocated, stats.peak_allocated, stats.cached(), stats.cache_hits};
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
  if (device.is_cpu()) return cpu_allocator().cache().empty_cache();
#if KILN_HAVE_CUDA
  if (device.is_cuda()) cuda::empty_cache(device.index);
#else
  (void)device;
#endif
}

void set_cpu_cache_limit(size_t bytes) {
  if (kCpuCacheBuiltIn) cpu_allocator().cache().set_cache_limit(bytes);
}

size_t cpu_cache_limit() { return cpu_allocator().cache().cache_limit(); }

bool cpu_cache_built_in() { return kCpuCacheBuiltIn; }

AllocatorStats cpu_cache_stats() { return cpu_allocator().cache().stats(); }

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
