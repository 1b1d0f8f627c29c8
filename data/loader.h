// Mini-batches from in-memory data sets: seeded shuffling (a new permutation each epoch, reproducible
// from the seed and the epoch alone), a background thread that assembles the next batches while the
// model trains, and pinned-memory asynchronous copies to the GPU. The position (epoch, batch) is part
// of a training checkpoint: seek() resumes exactly where a run stopped.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"

namespace kiln::data {

struct LoaderPosition {
  int64_t epoch = 0;  // epochs completed
  int64_t batch = 0;  // batches of this epoch already handed out
  bool operator==(const LoaderPosition&) const = default;
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = true;          // drop a last, smaller batch
  uint64_t seed = 0;
  Device device = Device::cpu();  // where batches are delivered
  int prefetch = 2;               // batches assembled ahead (0: assemble in next(), no thread)
};

class DataLoader {
 public:
  // `arrays` share their first dimension (e.g. images [N, C, H, W] and labels [N]); they stay on the CPU.
  DataLoader(std::vector<Tensor> arrays, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t size() const { return n_; }
  int64_t batches_per_epoch() const;
  // The next batch (one tensor per array, on options.device); after the last batch of an epoch comes the
  // first of the next.
  std::vector<Tensor> next();
  LoaderPosition position() const { return position_; }
  void seek(LoaderPosition position);

  // The sample order of an epoch (a permutation of 0..N-1, or 0..N-1 without shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  std::vector<Tensor> assemble(LoaderPosition at) const;  // the CPU batch at a position
  LoaderPosition after(LoaderPosition at) const;
  void start_worker();
  void stop_worker();
  void worker_loop(LoaderPosition from);

  // The order of the epoch being assembled, kept between its batches (used by one thread at a time:
  // the worker when prefetching, else the caller of next()).
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;

  std::vector<Tensor> arrays_;
  LoaderOptions options_;
  int64_t n_ = 0;
  LoaderPosition position_;

  // Prefetching: the worker fills `ready_` with the CPU batches from position_ on.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<Tensor>> ready_;
  std::exception_ptr worker_error_;
  bool stopping_ = false;
};

}  // namespace kiln::data
