// The CPU allocator's cache of large blocks: reuse in a steady-state loop, the bound on cached bytes,
// emptying it, and the memory cap counting tensors and cache together. (Builds with AddressSanitizer do
// not cache; there these tests only check that nothing is cached.)
#include "core/allocator.h"
#include "core/memory_limit.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

constexpr size_t kMiB = size_t(1) << 20;
// GCC and clang announce AddressSanitizer differently; the allocator says whether it caches.
const bool kAddressSanitizer = !cpu_cache_built_in();
const Device cpu = Device::cpu();

// Starts from an empty cache with the default limit and gives both back at the end of the test.
struct FreshCache {
  size_t limit = cpu_cache_limit();
  FreshCache() { release_cached_memory(cpu); }
  ~FreshCache() {
    set_cpu_cache_limit(limit);
    set_memory_cap(cpu, 0);
    release_cached_memory(cpu);
  }
  bool caching() const { return !kAddressSanitizer; }
};

}  // namespace

TEST_CASE("cpu cache: on by default with a 1 GiB bound, off under AddressSanitizer", "[allocator][cpu_cache]") {
  CHECK(cpu_cache_limit() == (kAddressSanitizer ? 0 : size_t(1) << 30));
}

TEST_CASE("cpu cache: a steady-state loop of large blocks maps no new pages", "[allocator][cpu_cache]") {
  FreshCache fresh;
  Allocator& a = allocator_for(cpu);
  const AllocatorStats start = cpu_cache_stats();
  for (int step = 0; step < 5; ++step) {
    void* x = a.allocate(3 * kMiB);
    void* y = a.allocate(200 * 1024);
    void* z = a.allocate(3 * kMiB);
    CHECK(x != z);
    a.deallocate(x, 3 * kMiB);
    a.deallocate(y, 200 * 1024);
    a.deallocate(z, 3 * kMiB);
  }
  const AllocatorStats end = cpu_cache_stats();
  if (!fresh.caching()) {  // AddressSanitizer build
    CHECK(end.reserved == 0);
    return;
  }
  CHECK(end.raw_allocs - start.raw_allocs == 3);  // the first step only
  CHECK(end.cache_hits - start.cache_hits == 12);
  CHECK(end.cached() == 6 * kMiB + 200 * 1024);
  CHECK(memory_counters(cpu).cached == end.cached());
  CHECK(memory_counters(cpu).cache_hits == end.cache_hits);
}

TEST_CASE("cpu cache: a freed block is handed out again, small blocks bypass the cache", "[allocator][cpu_cache]") {
  FreshCache fresh;
  if (!fresh.caching()) return;
  Allocator& a = allocator_for(cpu);
  void* x = a.allocate(kMiB);
  a.deallocate(x, kMiB);
  void* y = a.allocate(kMiB - 100);  // same size class
  CHECK(y == x);
  a.deallocate(y, kMiB - 100);
  const AllocatorStats before = cpu_cache_stats();
  void* small = a.allocate(1000);
  a.deallocate(small, 1000);
  CHECK(cpu_cache_stats().raw_allocs == before.raw_allocs);
  CHECK(cpu_cache_stats().cached() == before.cached());
}

TEST_CASE("cpu cache: the limit bounds the cached bytes, release_cached_memory empties it", "[allocator][cpu_cache]") {
  FreshCache fresh;
  if (!fresh.caching()) return;
  Allocator& a = allocator_for(cpu);
  set_cpu_cache_limit(2 * kMiB);
  CHECK(cpu_cache_limit() == 2 * kMiB);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(a.allocate(kMiB));
  const uint64_t frees_before = cpu_cache_stats().raw_frees;
  for (void* p : blocks) a.deallocate(p, kMiB);
  CHECK(cpu_cache_stats().cached() == 2 * kMiB);  // two kept, two given back at once
  CHECK(cpu_cache_stats().raw_frees - frees_before == 2);
  release_cached_memory(cpu);
  CHECK(cpu_cache_stats().cached() == 0);
  set_cpu_cache_limit(0);  // no cache: every block goes back when freed
  void* p = a.allocate(kMiB);
  a.deallocate(p, kMiB);
  CHECK(cpu_cache_stats().cached() == 0);
}

TEST_CASE("cpu cache: the memory cap counts the cache, which is emptied before a fresh block passes it", "[allocator][cpu_cache]") {
  FreshCache fresh;
  Allocator& a = allocator_for(cpu);
  const size_t held = memory_counters(cpu).allocated;
  set_memory_cap(cpu, held + 4 * kMiB);
  void* x = a.allocate(2 * kMiB);
  a.deallocate(x, 2 * kMiB);  // cached (when caching): 2 MiB beside no tensors
  void* y = a.allocate(3 * kMiB);  // no cached block fits; 3 + 2 MiB would pass the cap: the cache goes first
  CHECK(y != nullptr);
  CHECK(cpu_cache_stats().cached() == 0);
  CHECK(memory_counters(cpu).allocated == held + 3 * kMiB);
  // Past the cap it still fails with the CPU's message, the cache notwithstanding.
  CHECK_THROWS_WITH_TEXT(a.allocate(2 * kMiB), "out of CPU memory: could not allocate 2 MiB");
  a.deallocate(y, 3 * kMiB);
  void* z = a.allocate(3 * kMiB);  // a cached block under the cap is reused
  a.deallocate(z, 3 * kMiB);
  CHECK(memory_counters(cpu).allocated == held);
}

TEST_CASE("cpu cache: reading the memory budget gives the cached pages back first", "[allocator][cpu_cache]") {
  FreshCache fresh;
  Allocator& a = allocator_for(cpu);
  void* x = a.allocate(4 * kMiB);
  a.deallocate(x, 4 * kMiB);
  (void)memory_budget();
  CHECK(cpu_cache_stats().cached() == 0);
  CHECK(memory_counters(cpu).cached == 0);
}
