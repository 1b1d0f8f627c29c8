// The caching allocator's logic, on a fake device: reuse, size classes, streams, statistics,
// out-of-memory handling. (The CUDA backend under it is exercised by the [cuda] tests.)
#include <cstdlib>
#include <set>

#include "core/caching_allocator.h"
#include "core/out_of_memory.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

// A device with `capacity` bytes that records every call.
struct FakeMemory final : RawMemory {
  size_t capacity, used = 0;
  std::map<void*, size_t> blocks;
  explicit FakeMemory(size_t cap) : capacity(cap) {}
  ~FakeMemory() override {
    for (auto& [p, n] : blocks) std::free(p);
  }
  void* raw_alloc(size_t bytes) override {
    if (used + bytes > capacity) return nullptr;
    void* p = std::malloc(bytes);
    blocks[p] = bytes;
    used += bytes;
    return p;
  }
  void raw_free(void* p, size_t) noexcept override {
    used -= blocks[p];
    blocks.erase(p);
    std::free(p);
  }
  std::string describe_free() override { return std::to_string(capacity - used) + " bytes free of " + std::to_string(capacity); }
};

}  // namespace

TEST_CASE("caching allocator: sizes round to 512 B below 1 MiB and 2 MiB above", "[allocator]") {
  CHECK(CachingAllocator::round_size(0) == 512);
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size(1 << 20) == (1 << 20));
  CHECK(CachingAllocator::round_size((1 << 20) + 1) == (2 << 20));
  CHECK(CachingAllocator::round_size((5 << 20) + 7) == (6 << 20));
}

TEST_CASE("caching allocator: a steady-state loop makes no backend calls", "[allocator]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  for (int step = 0; step < 10; ++step) {
    void* a = alloc.allocate(1000, 0);
    void* b = alloc.allocate(3 << 20, 0);
    void* c = alloc.allocate(1000, 0);
    CHECK(a != c);
    alloc.deallocate(a);
    alloc.deallocate(b);
    alloc.deallocate(c);
  }
  AllocatorStats s = alloc.stats();
  CHECK(s.raw_allocs == 3);  // only the first step reached the backend
  CHECK(s.cache_hits == 27);
  CHECK(s.allocated == 0);
  CHECK(s.reserved == 1024 + 1024 + (4 << 20));
  CHECK(s.peak_allocated == s.reserved);
  alloc.empty_cache();
  CHECK(alloc.stats().reserved == 0);
  CHECK(fake->used == 0);
  CHECK(alloc.stats().raw_frees == 3);
}

TEST_CASE("caching allocator: blocks are reused only on their own stream and only when they fit", "[allocator]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  void* a = alloc.allocate(4096, 1);
  alloc.deallocate(a);
  void* b = alloc.allocate(4096, 2);  // another stream: a fresh block
  CHECK(b != a);
  void* c = alloc.allocate(4000, 1);  // same stream, fits: reused
  CHECK(c == a);
  alloc.deallocate(c);
  void* d = alloc.allocate(512, 1);  // 4096 would waste more than half: fresh block
  CHECK(d != a);
  void* e = alloc.allocate(3000, 1);  // 4096 ≤ 3072·1.5: reused
  CHECK(e == a);
  CHECK(alloc.stats().raw_allocs == 3);
}

TEST_CASE("caching allocator: out of memory frees the cache, then throws a clear error", "[allocator]") {
  auto* fake = new FakeMemory(8 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  void* a = alloc.allocate(4 << 20, 0);
  alloc.deallocate(a);  // cached: 4 MiB reserved
  void* b = alloc.allocate(6 << 20, 0);  // does not fit beside the cache: the cache is released first
  CHECK(b != nullptr);
  CHECK(alloc.stats().reserved == (6 << 20));
  CHECK_THROWS_WITH_TEXT(alloc.allocate(4 << 20, 0), "fake:0 out of memory: tried to allocate 4194304 bytes");
  CHECK_THROWS_WITH_TEXT(alloc.allocate(4 << 20, 0), "2097152 bytes free of 8388608");
  alloc.deallocate(b);
  alloc.deallocate(nullptr);  // harmless
}

TEST_CASE("caching allocator: a cap makes a device with room run out (OutOfMemory), as --batch auto needs", "[allocator]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  alloc.set_cap(8 << 20);
  CHECK(alloc.cap() == (8 << 20));
  void* a = alloc.allocate(6 << 20, 0);
  CHECK_THROWS_AS(alloc.allocate(4 << 20, 0), OutOfMemory);
  CHECK_THROWS_WITH_TEXT(alloc.allocate(4 << 20, 0), "kiln's cap is 8388608 bytes");
  alloc.deallocate(a);  // what a failed step held comes back: the same request then fits
  void* b = alloc.allocate(4 << 20, 0);
  CHECK(alloc.stats().reserved <= (8 << 20));
  alloc.deallocate(b);
  alloc.set_cap(0);
  void* c = alloc.allocate(32 << 20, 0);
  CHECK(c != nullptr);
  alloc.deallocate(c);
}

TEST_CASE("caching allocator: other size classes, as the CPU's cache uses", "[allocator]") {
  const SizeClasses cpu{size_t(1) << 20, size_t(4) << 10, size_t(64) << 10};
  CHECK(CachingAllocator::round_size(1, cpu) == 4096);
  CHECK(CachingAllocator::round_size(4097, cpu) == 8192);
  CHECK(CachingAllocator::round_size((1 << 20) + 1, cpu) == (1 << 20) + (64 << 10));
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0", cpu);
  void* a = alloc.allocate(5000, 0);
  CHECK(fake->blocks.at(a) == 8192);
}

TEST_CASE("caching allocator: the cache limit gives blocks past it back at once", "[allocator]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  alloc.set_cache_limit(5 << 20);
  CHECK(alloc.cache_limit() == (5 << 20));
  void* a = alloc.allocate(4 << 20, 0);
  void* b = alloc.allocate(2 << 20, 0);
  alloc.deallocate(a);  // 4 MiB cached
  alloc.deallocate(b);  // 4 + 2 > 5: back to the backend
  CHECK(alloc.stats().cached() == (4 << 20));
  CHECK(alloc.stats().raw_frees == 1);
  CHECK(fake->used == (4 << 20));
  alloc.set_cache_limit(1 << 20);  // lowering the limit below what is cached empties the cache
  CHECK(alloc.stats().cached() == 0);
  CHECK(fake->used == 0);
  alloc.set_cache_limit(0);  // caches nothing
  void* c = alloc.allocate(512, 0);
  alloc.deallocate(c);
  CHECK(fake->used == 0);
}

TEST_CASE("caching allocator: reuse hands out a cached block and never calls the backend", "[allocator]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  CHECK(alloc.reuse(4096, 0) == nullptr);
  CHECK(alloc.stats().raw_allocs == 0);
  void* a = alloc.allocate(4096, 0);
  alloc.deallocate(a);
  CHECK(alloc.reuse(4096, 1) == nullptr);  // another stream
  CHECK(alloc.reuse(4000, 0) == a);
  CHECK(alloc.stats().cache_hits == 1);
  CHECK(alloc.stats().allocated == 4096);
  alloc.deallocate(a);
}

// ---------------------------------------------------------------- private pools (CUDA-graph capture)

TEST_CASE("caching allocator: a capture draws from its own pool, never from the shared cache", "[allocator][graph]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  void* shared = alloc.allocate(4096, 7);
  alloc.deallocate(shared);  // cached in the shared cache
  const auto pool = alloc.create_pool();
  alloc.begin_capture(pool, 7);
  void* captured = alloc.allocate(4096, 7);
  CHECK(captured != shared);  // the shared block is not the graph's
  CHECK(alloc.pool_bytes(pool) == 4096);
  void* other_stream = alloc.allocate(4096, 8);  // another stream is not captured: shared cache rules
  CHECK(alloc.pool_bytes(pool) == 4096);
  alloc.deallocate(other_stream);
  alloc.end_capture(7);
  alloc.deallocate(captured);  // freed after the capture: kept for the graph's replays
  void* later = alloc.allocate(4096, 7);
  CHECK(later != captured);
  CHECK(later == shared);
  CHECK(alloc.pool_bytes(pool) == 4096);
  alloc.deallocate(later);
  alloc.release_pool(pool);
  CHECK(alloc.pool_bytes(pool) == 0);
}

TEST_CASE("caching allocator: memory freed during a capture is reused only within that capture", "[allocator][graph]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  void* before = alloc.allocate(1024, 1);  // e.g. a tensor of the warm-up step, freed inside the step
  const auto pool = alloc.create_pool();
  alloc.begin_capture(pool, 1);
  void* a = alloc.allocate(2048, 1);
  alloc.deallocate(a);
  void* b = alloc.allocate(2048, 1);
  CHECK(b == a);  // reuse inside the same capture, as stream order allows
  alloc.deallocate(before);  // the captured work used it: it joins the pool
  CHECK(alloc.pool_bytes(pool) == 2048 + 1024);
  void* c = alloc.allocate(1024, 1);
  CHECK(c == before);
  alloc.deallocate(b);
  alloc.deallocate(c);
  alloc.end_capture(1);
  // Outside the capture, neither the pool's blocks nor the joined one serve anyone else.
  std::set<void*> handed;
  for (int i = 0; i < 3; ++i) handed.insert(alloc.allocate(1024, 1));
  for (int i = 0; i < 3; ++i) handed.insert(alloc.allocate(2048, 1));
  CHECK(handed.count(a) == 0);
  CHECK(handed.count(before) == 0);
  // A second graph's capture does not get them either.
  const auto pool2 = alloc.create_pool();
  alloc.begin_capture(pool2, 1);
  void* d = alloc.allocate(2048, 1);
  CHECK(d != a);
  alloc.end_capture(1);
  alloc.deallocate(d);
  // The graph is gone: its blocks go back to the shared cache and serve the next request.
  alloc.release_pool(pool);
  CHECK(alloc.pool_bytes(pool) == 0);
  void* e = alloc.allocate(2048, 1);
  CHECK(e == a);
  alloc.deallocate(e);
  for (void* p : handed) alloc.deallocate(p);
  alloc.release_pool(pool2);
}

TEST_CASE("caching allocator: a pool's live blocks return to the shared cache when freed after release", "[allocator][graph]") {
  auto* fake = new FakeMemory(64 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  const auto pool = alloc.create_pool();
  alloc.begin_capture(pool, 3);
  void* output = alloc.allocate(512, 3);  // e.g. the step's loss, still held by the caller
  alloc.end_capture(3);
  alloc.release_pool(pool);
  alloc.deallocate(output);
  CHECK(alloc.allocate(512, 3) == output);
}

TEST_CASE("caching allocator: nothing is freed to the device during a capture, and pools survive empty_cache", "[allocator][graph]") {
  auto* fake = new FakeMemory(8 << 20);
  CachingAllocator alloc(std::unique_ptr<RawMemory>(fake), "fake:0");
  void* big = alloc.allocate(6 << 20, 0);
  alloc.deallocate(big);  // 6 MiB in the shared cache
  const auto pool = alloc.create_pool();
  alloc.begin_capture(pool, 0);
  // Out of memory inside a capture: the cache is not returned (cudaFree would break the capture).
  CHECK_THROWS_AS(alloc.allocate(4 << 20, 0), OutOfMemory);
  CHECK(alloc.stats().raw_frees == 0);
  alloc.empty_cache();
  CHECK(alloc.stats().raw_frees == 0);
  void* in_pool = alloc.allocate(1 << 20, 0);
  alloc.end_capture(0);
  alloc.deallocate(in_pool);
  alloc.empty_cache();  // frees the shared 6 MiB, keeps the graph's block
  CHECK(alloc.stats().raw_frees == 1);
  CHECK(alloc.stats().reserved == (1 << 20));
  CHECK_THROWS_WITH(alloc.begin_capture(pool + 100, 0), Catch::Contains("unknown memory pool"));
  alloc.begin_capture(pool, 0);
  CHECK_THROWS_WITH(alloc.begin_capture(pool, 0), Catch::Contains("already being captured"));
  alloc.release_pool(pool);  // ends the failed capture too
  alloc.empty_cache();
  CHECK(alloc.stats().reserved == 0);
}
