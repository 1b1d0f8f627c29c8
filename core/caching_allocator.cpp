#include "core/caching_allocator.h"

#include <algorithm>

#include "core/error.h"
#include "core/out_of_memory.h"

namespace kiln {

CachingAllocator::CachingAllocator(std::unique_ptr<RawMemory> raw, std::string device_name, SizeClasses classes)
    : raw_(std::move(raw)), device_name_(std::move(device_name)), classes_(classes) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, ptr] : free_blocks_) raw_->raw_free(ptr, std::get<2>(key));  // shared cache and pools alike
  free_blocks_.clear();
  // Live blocks belong to tensors that outlive the allocator (static destruction order); leave them.
}

size_t CachingAllocator::round_size(size_t bytes, const SizeClasses& classes) {
  if (bytes == 0) bytes = 1;
  size_t unit = bytes <= classes.small_limit ? classes.small_round : classes.large_round;
  return (bytes + unit - 1) / unit * unit;
}

void* CachingAllocator::allocate(size_t bytes, StreamId stream) {
  const size_t size = round_size(bytes, classes_);
  std::lock_guard<std::mutex> lock(mutex_);
  const PoolId pool = capturing_pool_locked(stream);
  if (void* cached = reuse_locked(size, stream, pool)) return cached;
  void* p = raw_alloc_locked(size);
  // Give the cache back and try once more (not during a capture: freeing device memory would sync).
  if (!p && capturing_.empty() && !free_blocks_.empty()) {
    release_cached_locked();
    p = raw_alloc_locked(size);
  }
  if (p == nullptr)
    throw OutOfMemory(detail::concat(device_name_, " out of memory: tried to allocate ", bytes, " bytes (", size,
                                     " rounded); kiln holds ", stats_.allocated, " bytes in tensors and ",
                                     stats_.reserved, " bytes reserved in all; ",
                                     cap_ != 0 ? "kiln's cap is " + std::to_string(cap_) + " bytes; " : std::string(),
                                     "the device reports ", raw_->describe_free()));
  ++stats_.raw_allocs;
  live_[p] = {size, stream, pool};
  if (pool != 0) pool_bytes_[pool] += size;
  stats_.allocated += size;
  stats_.reserved += size;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  return p;
}

void* CachingAllocator::reuse(size_t bytes, StreamId stream) {
  const size_t size = round_size(bytes, classes_);
  std::lock_guard<std::mutex> lock(mutex_);
  return reuse_locked(size, stream, capturing_pool_locked(stream));
}

// Best fit among the pool's cached blocks of this stream, wasting at most half the request; nullptr when
// none fits.
void* CachingAllocator::reuse_locked(size_t size, StreamId stream, PoolId pool) {
  auto it = free_blocks_.lower_bound({pool, stream, size});
  if (it == free_blocks_.end() || std::get<0>(it->first) != pool || std::get<1>(it->first) != stream ||
      std::get<2>(it->first) > size + size / 2)
    return nullptr;
  void* p = it->second;
  size_t block_size = std::get<2>(it->first);
  free_blocks_.erase(it);
  live_[p] = {block_size, stream, pool};
  stats_.allocated += block_size;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  ++stats_.cache_hits;
  return p;
}

// The backend's block, or nullptr when the device is full or the cap would be passed.
void* CachingAllocator::raw_alloc_locked(size_t size) {
  if (cap_ != 0 && stats_.reserved + size > cap_) return nullptr;
  return raw_->raw_alloc(size);
}

void CachingAllocator::set_cap(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cap_ = bytes;
}

size_t CachingAllocator::cap() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cap_;
}

void CachingAllocator::deallocate(void* ptr) noexcept {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // not ours: nothing safe to do
  Block b = it->second;
  live_.erase(it);
  stats_.allocated -= b.size;
  // A shared block freed while its stream is captured was used by the captured work, whose replays
  // will touch it again: it joins the capture's pool, out of reach of everything else.
  if (b.pool == 0) {
    b.pool = capturing_pool_locked(b.stream);
    if (b.pool != 0) pool_bytes_[b.pool] += b.size;
  }
  // A shared block that would pass the cache's bound goes back to the backend (never during a capture).
  if (b.pool == 0 && capturing_.empty() && stats_.cached() > cache_limit_) {
    raw_->raw_free(ptr, b.size);
    stats_.reserved -= b.size;
    ++stats_.raw_frees;
    return;
  }
  free_blocks_.insert({{b.pool, b.stream, b.size}, ptr});
}

void CachingAllocator::set_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_limit_ = bytes;
  if (stats_.cached() > cache_limit_) release_cached_locked();
}

size_t CachingAllocator::cache_limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_limit_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

// Only the shared cache goes back: a pool's blocks are the addresses of a live graph. Nothing is freed
// while a capture runs (cudaFree would synchronize the device, which a capture forbids).
void CachingAllocator::release_cached_locked() {
  if (!capturing_.empty()) return;
  auto end = free_blocks_.lower_bound({PoolId(1), StreamId(0), size_t(0)});
  for (auto it = free_blocks_.begin(); it != end; ++it) {
    raw_->raw_free(it->second, std::get<2>(it->first));
    stats_.reserved -= std::get<2>(it->first);
    ++stats_.raw_frees;
  }
  free_blocks_.erase(free_blocks_.begin(), end);
}

CachingAllocator::PoolId CachingAllocator::capturing_pool_locked(StreamId stream) const {
  if (capturing_.empty()) return 0;  // the common case: one branch
  auto it = capturing_.find(stream);
  return it == capturing_.end() ? 0 : it->second;
}

CachingAllocator::PoolId CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  const PoolId pool = next_pool_++;
  pool_bytes_[pool] = 0;
  return pool;
}

void CachingAllocator::begin_capture(PoolId pool, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  KILN_CHECK(pool != 0 && pool_bytes_.count(pool) != 0, device_name_, ": capture into an unknown memory pool ", pool);
  KILN_CHECK(capturing_.count(stream) == 0, device_name_, ": the stream is already being captured into pool ",
             capturing_.at(stream));
  capturing_[stream] = pool;
}

void CachingAllocator::end_capture(StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  capturing_.erase(stream);
}

void CachingAllocator::release_pool(PoolId pool) {
  if (pool == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = capturing_.begin(); it != capturing_.end();) it = it->second == pool ? capturing_.erase(it) : std::next(it);
  auto first = free_blocks_.lower_bound({pool, StreamId(0), size_t(0)});
  auto last = free_blocks_.lower_bound({pool + 1, StreamId(0), size_t(0)});
  for (auto it = first; it != last; ++it)
    free_blocks_.insert({{PoolId(0), std::get<1>(it->first), std::get<2>(it->first)}, it->second});
  free_blocks_.erase(first, last);
  for (auto& [ptr, block] : live_)
    if (block.pool == pool) block.pool = 0;
  pool_bytes_.erase(pool);
}

size_t CachingAllocator::pool_bytes(PoolId pool) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pool_bytes_.find(pool);
  return it == pool_bytes_.end() ? 0 : it->second;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated = stats_.allocated;
  stats_.peak_reserved = stats_.reserved;
}

}  // namespace kiln
