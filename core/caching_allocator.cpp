#include "core/caching_allocator.h"

#include <algorithm>

#include "core/error.h"
#include "core/out_of_memory.h"

namespace kiln {

CachingAllocator::CachingAllocator(std::unique_ptr<RawMemory> raw, std::string device_name, SizeClasses classes)
    : raw_(std::move(raw)), device_name_(std::move(device_name)), classes_(classes) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
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
  if (void* cached = reuse_locked(size, stream)) return cached;
  void* p = raw_alloc_locked(size);
  if (!p && !free_blocks_.empty()) {  // give the cache back and try once more
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
  live_[p] = {size, stream};
  stats_.allocated += size;
  stats_.reserved += size;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  return p;
}

void* CachingAllocator::reuse(size_t bytes, StreamId stream) {
  const size_t size = round_size(bytes, classes_);
  std::lock_guard<std::mutex> lock(mutex_);
  return reuse_locked(size, stream);
}

// Best fit among this stream's cached blocks, wasting at most half the request; nullptr when none fits.
void* CachingAllocator::reuse_locked(size_t size, StreamId stream) {
  auto it = free_blocks_.lower_bound({stream, size});
  if (it == free_blocks_.end() || it->first.first != stream || it->first.second > size + size / 2) return nullptr;
  void* p = it->second;
  size_t block_size = it->first.second;
  free_blocks_.erase(it);
  live_[p] = {block_size, stream};
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
  if (stats_.cached() > cache_limit_) {  // the block itself would pass the bound: back to the backend
    raw_->raw_free(ptr, b.size);
    stats_.reserved -= b.size;
    ++stats_.raw_frees;
    return;
  }
  free_blocks_.insert({{b.stream, b.size}, ptr});
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

void CachingAllocator::release_cached_locked() {
  for (auto& [key, ptr] : free_blocks_) {
    raw_->raw_free(ptr, key.second);
    stats_.reserved -= key.second;
    ++stats_.raw_frees;
  }
  free_blocks_.clear();
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
