#include "data/loader.h"

#include "core/error.h"
#include "core/ops/ops.h"
#include "core/pinned_memory.h"
#include "core/random.h"
#include "core/shape.h"

namespace kiln::data {

DataLoader::DataLoader(std::vector<Tensor> arrays, LoaderOptions options)
    : arrays_(std::move(arrays)), options_(options) {
  KILN_CHECK(!arrays_.empty(), "DataLoader: no arrays given");
  KILN_CHECK(options_.batch_size >= 1, "DataLoader: batch size must be at least 1, got ", options_.batch_size);
  KILN_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be ≥ 0, got ", options_.prefetch);
  for (Tensor& a : arrays_) {
    KILN_CHECK(a.defined() && a.dim() >= 1 && a.device().is_cpu(), "DataLoader: arrays must be CPU tensors with a ",
               "first (sample) dimension");
    a = a.detach().contiguous();
  }
  n_ = arrays_[0].size(0);
  for (const Tensor& a : arrays_)
    KILN_CHECK(a.size(0) == n_, "DataLoader: arrays disagree on the number of samples (", n_, " and ", a.size(0),
               ", shape ", shape_str(a.shape()), ")");
  KILN_CHECK(batches_per_epoch() > 0, "DataLoader: ", n_, " samples make no batch of ", options_.batch_size,
             options_.drop_last ? " (drop_last is on)" : "");
  start_worker();
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::batches_per_epoch() const {
  return options_.drop_last ? n_ / options_.batch_size : (n_ + options_.batch_size - 1) / options_.batch_size;
}

// Epoch e's order: randperm(N) drawn from a generator seeded with seed ⊕ (e + 1)·φ·2⁶⁴ (φ the golden
// ratio), so every epoch's order follows from (seed, e) alone.
std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (!options_.shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) order[size_t(i)] = i;
    return order;
  }
  Generator g(options_.seed ^ (uint64_t(epoch + 1) * 0x9E3779B97F4A7C15ull));
  return randperm(n_, g).to_vector<int64_t>();
}

LoaderPosition DataLoader::after(LoaderPosition at) const {
  return at.batch + 1 < batches_per_epoch() ? LoaderPosition{at.epoch, at.batch + 1} : LoaderPosition{at.epoch + 1, 0};
}

std::vector<Tensor> DataLoader::assemble(LoaderPosition at) const {
  if (cached_epoch_ != at.epoch) {
    cached_order_ = epoch_order(at.epoch);
    cached_epoch_ = at.epoch;
  }
  const std::vector<int64_t>& order = cached_order_;
  const int64_t begin = at.batch * options_.batch_size, end = std::min(n_, begin + options_.batch_size);
  Tensor index = from_vector(std::vector<int64_t>(order.begin() + begin, order.begin() + end), {end - begin},
                             {.dtype = DType::Int64});
  std::vector<Tensor> batch;
  for (const Tensor& a : arrays_) batch.push_back(index_select(a, 0, index));
  return batch;
}

std::vector<Tensor> DataLoader::next() {
  std::vector<Tensor> batch;
  if (options_.prefetch == 0) {
    batch = assemble(position_);
  } else {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || worker_error_; });
    if (ready_.empty()) std::rethrow_exception(worker_error_);
    batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
  }
  position_ = after(position_);
  if (!options_.device.is_cpu())
    for (Tensor& t : batch) t = upload(t, options_.device);
  return batch;
}

void DataLoader::seek(LoaderPosition position) {
  KILN_CHECK(position.epoch >= 0 && position.batch >= 0 && position.batch < batches_per_epoch(),
             "DataLoader: position (epoch ", position.epoch, ", batch ", position.batch,
             ") is outside an epoch of ", batches_per_epoch(), " batches");
  stop_worker();
  position_ = position;
  start_worker();
}

void DataLoader::start_worker() {
  if (options_.prefetch == 0) return;
  stopping_ = false;
  ready_.clear();
  worker_error_ = nullptr;
  worker_ = std::thread([this, from = position_] { worker_loop(from); });
}

void DataLoader::stop_worker() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void DataLoader::worker_loop(LoaderPosition at) {
  try {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || int(ready_.size()) < options_.prefetch; });
        if (stopping_) return;
      }
      std::vector<Tensor> batch = assemble(at);
      at = after(at);
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(batch));
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    worker_error_ = std::current_exception();
    changed_.notify_all();
  }
}

}  // namespace kiln::data
