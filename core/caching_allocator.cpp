#include "core/caching_allocator.h"

#include <algorithm>

#include "core/error.h"
#include "core/out_of_memory.h"

namespace kiln {

namespace {
constexpr size_t kSmallLimit = size_t(1) << 20;  // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;  // 2 MiB
}  // namespace

CachingAllocator::CachingAllocator(std::unique_ptr<RawMemory> raw, std::string device_name)
    : raw_(std::move(raw)), device_name_(std::move(device_name)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
  // Live blocks belong to tensors that outlive the allocator (static destruction order); leave them.
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t unit = bytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (bytes + unit - 1) / unit * unit;
}

void* CachingAllocator::allocate(size_t bytes, StreamId stream) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  // Best fit among this stream's cached blocks, wasting at most half the request.
  auto it = free_blocks_.lower_bound({stream, size});
  if (it != free_blocks_.end() && it->first.first == stream && it->first.second <= size + size / 2) {
    void* p = it->second;
    size_t block_size = it->first.second;
    free_blocks_.erase(it);
    live_[p] = {block_size, stream};
    stats_.allocated += block_size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    ++stats_.cache_hits;
    return p;
  }
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
  free_blocks_.insert({{b.stream, b.size}, ptr});
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [key, ptr] : free_blocks_) {
    raw_->raw_free(ptr);
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
