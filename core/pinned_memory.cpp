#include "core/pinned_memory.h"

#include <map>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"

namespace kiln {

#if KILN_HAVE_CUDA
namespace {

class PinnedHostAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    size_t size = CachingAllocator::round_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& bin = free_[size];
    for (size_t i = 0; i < bin.size(); ++i) {
      cudaError_t state = cudaEventQuery(bin[i].ready);
      if (state == cudaErrorNotReady) continue;
      KILN_CUDA_CHECK(state);
      void* p = bin[i].ptr;
      KILN_CUDA_CHECK(cudaEventDestroy(bin[i].ready));
      bin.erase(bin.begin() + int64_t(i));
      sizes_[p] = size;
      return p;
    }
    void* p = nullptr;
    cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocDefault);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      KILN_FAIL("out of pinned host memory: could not allocate ", bytes, " bytes (", cudaGetErrorString(err), ")");
    }
    sizes_[p] = size;
    return p;
  }

  void deallocate(void* ptr, size_t) noexcept override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = sizes_.find(ptr);
    if (it == sizes_.end()) return;
    // Everything queued so far on the current stream (such as a copy out of this block) must finish
    // before the block is handed out again.
    cudaEvent_t ready = nullptr;
    KILN_CUDA_CHECK_NOTHROW(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    KILN_CUDA_CHECK_NOTHROW(
        cudaEventRecord(ready, static_cast<cudaStream_t>(cuda::current_stream(cuda::current_device()))));
    free_[it->second].push_back({ptr, ready});
    sizes_.erase(it);
  }

 private:
  struct FreeBlock {
    void* ptr;
    cudaEvent_t ready;
  };
  std::mutex mutex_;
  std::map<size_t, std::vector<FreeBlock>> free_;
  std::map<void*, size_t> sizes_;
};

PinnedHostAllocator& pinned_allocator() {
  static auto* a = new PinnedHostAllocator();  // never destroyed: pinned tensors may outlive main
  return *a;
}

}  // namespace

Tensor pin_memory(const Tensor& t) {
  KILN_CHECK(t.device().is_cpu(), "pin_memory: the tensor is on ", t.device().str(), ", pinning is for CPU tensors");
  KILN_CHECK(cuda_is_available(), "pin_memory: no CUDA device is visible (pinned memory serves GPU transfers)");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(t.numel()) * dtype_size(t.dtype()), Device::cpu(), pinned_allocator());
  impl->shape = t.shape();
  impl->strides = contiguous_strides(t.shape());
  impl->dtype = t.dtype();
  Tensor out(impl);
  out.copy_(t.detach());
  return out;
}

bool is_pinned(const Tensor& t) { return t.defined() && t.storage()->allocator() == &pinned_allocator(); }

Tensor to_device_async(const Tensor& pinned, Device device) {
  KILN_CHECK(is_pinned(pinned) && pinned.is_contiguous(), "to_device_async: needs a contiguous tensor made by pin_memory()");
  KILN_CHECK(device.is_cuda(), "to_device_async: the destination must be a CUDA device, got ", device.str());
  Tensor out = empty(pinned.shape(), {.dtype = pinned.dtype(), .device = device});
  auto stream = static_cast<cudaStream_t>(cuda::current_stream(device.index));
  KILN_CUDA_CHECK(cudaMemcpyAsync(out.data(), pinned.data(), size_t(pinned.numel()) * dtype_size(pinned.dtype()),
                                  cudaMemcpyHostToDevice, stream));
  // The pinned block cannot be reused before this copy ends: its free records an event on this stream.
  return out;
}

#else
Tensor pin_memory(const Tensor&) { KILN_FAIL("pin_memory: this kiln was built without CUDA"); }
bool is_pinned(const Tensor&) { return false; }
Tensor to_device_async(const Tensor&, Device) { KILN_FAIL("to_device_async: this kiln was built without CUDA"); }
#endif

Tensor upload(const Tensor& t, Device device) {
  return device.is_cuda() ? to_device_async(pin_memory(t), device) : t;
}

}  // namespace kiln
