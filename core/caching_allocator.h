// A caching allocator for device memory: freed blocks are kept in size-class bins and handed out
// again, so a training step in steady state makes no cudaMalloc/cudaFree calls. The caching logic
// is device-independent: it sits on a RawMemory backend (cudaMalloc/cudaFree for GPUs; tests use a
// fake one), so it is fully tested on machines without a GPU.
//
// Streams: a block remembers the stream it was allocated for and is only reused by allocations for
// the same stream (work on one stream runs in order, so reuse needs no synchronization).
// Private pools (CUDA-graph capture, core/cuda_graph.h): while a pool captures a stream, that stream's
// allocations come from the pool, and every block freed on it (the pool's own, or an older block the
// captured work used) joins the pool. A pool's blocks are handed out only to that pool's capture and kept
// while the graph lives (its replays use their addresses); release_pool gives them back to the cache.
// The CPU allocator (core/allocator.cpp) keeps its large blocks in one too, with finer size classes and
// a bound on the bytes it caches (see SizeClasses and set_cache_limit).
// Not here yet: splitting large cached blocks, cross-stream reuse through events.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

namespace kiln {

// The memory the cache draws from. raw_alloc returns nullptr when the device is out of memory.
class RawMemory {
 public:
  virtual ~RawMemory() = default;
  virtual void* raw_alloc(size_t bytes) = 0;
  virtual void raw_free(void* ptr, size_t bytes) noexcept = 0;  // bytes: as given to raw_alloc
  // "N bytes free of M" or similar, for out-of-memory messages.
  virtual std::string describe_free() = 0;
};

struct AllocatorStats {
  size_t allocated = 0;       // bytes in blocks handed out and not yet freed (rounded sizes)
  size_t reserved = 0;        // bytes obtained from the backend (allocated + cached)
  size_t peak_allocated = 0;
  size_t peak_reserved = 0;
  uint64_t raw_allocs = 0;    // calls to the backend
  uint64_t raw_frees = 0;
  uint64_t cache_hits = 0;    // allocations served from the cache
  size_t cached() const { return reserved - allocated; }  // bytes in unused blocks kept for reuse
};

// How requests round up to block sizes: multiples of small_round up to small_limit, then of large_round.
// The defaults are the GPU's (few distinct sizes, as cudaMalloc is slow); the CPU's are finer, because an
// untouched rounded tail costs address space but a counted byte of kiln's memory cap all the same.
struct SizeClasses {
  size_t small_limit = size_t(1) << 20;  // 1 MiB
  size_t small_round = 512;
  size_t large_round = size_t(2) << 20;  // 2 MiB
};

class CachingAllocator {
 public:
  using StreamId = uint64_t;
  // A private pool; 0 is the shared cache.
  using PoolId = uint64_t;

  CachingAllocator(std::unique_ptr<RawMemory> raw, std::string device_name, SizeClasses classes = {});
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` for work on `stream`. Throws kiln::Error when the device is out of
  // memory even after returning the cache to it (kiln::OutOfMemory), naming the size asked for and the
  // current usage.
  void* allocate(size_t bytes, StreamId stream);
  // A cached block for `bytes` on `stream`, or nullptr when none fits (never calls the backend): lets a
  // caller with its own bound decide whether to empty the cache before a fresh block is made.
  void* reuse(size_t bytes, StreamId stream);
  // Returns a block to the cache; to the backend instead when caching it would pass the cache limit.
  void deallocate(void* ptr) noexcept;
  // Bounds the bytes kept in cached (unused) blocks: a freed block that would pass it goes back to the
  // backend at once (0: cache nothing; the default, SIZE_MAX, is no bound). Lowering it empties the cache.
  void set_cache_limit(size_t bytes);
  size_t cache_limit() const;
  // Caps the bytes reserved from the backend (0: no cap): past it, allocate behaves as if the device
  // were full (returns the cache, then throws kiln::OutOfMemory). Tests and `--batch auto` use it.
  void set_cap(size_t bytes);
  size_t cap() const;
  // Gives every cached (unused) block back to the backend.
  void empty_cache();
  AllocatorStats stats() const;
  void reset_peak_stats();

  // ---- private pools for graph capture
  // A new, empty pool.
  PoolId create_pool();
  // Routes `stream`'s allocations into `pool` (and its frees: see the header comment) until end_capture.
  // One capture per stream at a time; the backend is never asked to free memory while a capture runs.
  void begin_capture(PoolId pool, StreamId stream);
  void end_capture(StreamId stream);
  // The graph is gone: the pool's free blocks return to the shared cache, and its live blocks will when
  // they are freed. Ends the pool's capture if it is still running (a failed capture).
  void release_pool(PoolId pool);
  // Bytes of backend memory the pool holds (handed out or kept for it).
  size_t pool_bytes(PoolId pool) const;

  // The size a request is rounded up to: with the default classes, multiples of 512 bytes up to 1 MiB,
  // then of 2 MiB.
  static size_t round_size(size_t bytes, const SizeClasses& classes = {});

 private:
  struct Block {
    size_t size;
    StreamId stream;
    PoolId pool;
  };
  void release_cached_locked();
  void* reuse_locked(size_t size, StreamId stream, PoolId pool);
  PoolId capturing_pool_locked(StreamId stream) const;

  std::unique_ptr<RawMemory> raw_;
  std::string device_name_;
  mutable std::mutex mutex_;
  // cached blocks ordered by (pool, stream, size): the best fit is the first at or above (pool, stream, request)
  std::multimap<std::tuple<PoolId, StreamId, size_t>, void*> free_blocks_;
  std::unordered_map<void*, Block> live_;
  std::unordered_map<StreamId, PoolId> capturing_;  // streams under capture and their pools
  std::unordered_map<PoolId, size_t> pool_bytes_;
  PoolId next_pool_ = 1;
  AllocatorStats stats_;
  SizeClasses classes_;
  size_t cap_ = 0;
  size_t cache_limit_ = SIZE_MAX;

  void* raw_alloc_locked(size_t size);
};

}  // namespace kiln
