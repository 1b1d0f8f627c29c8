// Streams, devices and the per-device caching allocators of the CUDA backend.
#include "core/cuda_context.h"

#include <array>
#include <memory>
#include <mutex>

#include "core/allocator.h"
#include "core/cuda_check.h"
#include "core/error.h"

namespace kiln::cuda {

#if KILN_HAVE_CUDA
namespace {

constexpr int kMaxDevices = 16;

void check_device(int device) {
  KILN_CHECK(device >= 0 && device < cuda_device_count() && device < kMaxDevices, "device cuda:", device,
             " is not available (", cuda_device_count(), " CUDA devices visible)");
}

// cudaMalloc/cudaFree under the caching allocator.
class CudaRawMemory final : public RawMemory {
 public:
  explicit CudaRawMemory(int device) : device_(device) {}
  void* raw_alloc(size_t bytes) override {
    KILN_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    // cudaMalloc is not stream-ordered, so a thread-local capture would refuse it; the caching allocator
    // keeps the block for the graph (a private pool), which makes the call safe during a capture.
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    KILN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    const cudaError_t status = cudaMalloc(&p, bytes);
    KILN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    if (status != cudaSuccess) {
      (void)cudaGetLastError();  // clear the out-of-memory error so later calls work
      return nullptr;
    }
    return p;
  }
  void raw_free(void* p, size_t) noexcept override {
    KILN_CUDA_CHECK_NOTHROW(cudaSetDevice(device_));
    KILN_CUDA_CHECK_NOTHROW(cudaFree(p));
  }
  std::string describe_free() override {
    size_t free_bytes = 0, total = 0;
    if (cudaSetDevice(device_) != cudaSuccess || cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
      (void)cudaGetLastError();
      return "no free-memory figure";
    }
    return std::to_string(free_bytes) + " bytes free of " + std::to_string(total);
  }

 private:
  int device_;
};

struct DeviceState {
  std::once_flag init;
  cudaStream_t stream = nullptr;
  std::unique_ptr<CachingAllocator> allocator;
};

DeviceState& state(int device) {
  // Never destroyed: tensors in static storage may free memory after main returns.
  static auto* states = new std::array<DeviceState, kMaxDevices>();
  check_device(device);
  DeviceState& s = (*states)[size_t(device)];
  std::call_once(s.init, [&] {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    s.allocator = std::make_unique<CachingAllocator>(std::make_unique<CudaRawMemory>(device),
                                                     "cuda:" + std::to_string(device));
  });
  return s;
}

}  // namespace

Stream current_stream(int device) { return state(device).stream; }
void set_current_stream(int device, Stream stream) { state(device).stream = static_cast<cudaStream_t>(stream); }
void synchronize(int device) { KILN_CUDA_CHECK(cudaStreamSynchronize(state(device).stream)); }
int current_device() {
  int d = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}
void set_device(int device) {
  check_device(device);
  KILN_CUDA_CHECK(cudaSetDevice(device));
}
void use_device(int device) {
  if (current_device() != device) set_device(device);  // cudaGetDevice is a cheap, local query
}
AllocatorStats memory_stats(int device) { return state(device).allocator->stats(); }
void reset_peak_memory_stats(int device) { state(device).allocator->reset_peak_stats(); }
void empty_cache(int device) { state(device).allocator->empty_cache(); }
void set_memory_cap(int device, size_t bytes) { state(device).allocator->set_cap(bytes); }
size_t memory_cap(int device) { return state(device).allocator->cap(); }
CachingAllocator::PoolId create_memory_pool(int device) { return state(device).allocator->create_pool(); }
void begin_pool_capture(int device, CachingAllocator::PoolId pool) {
  DeviceState& s = state(device);
  s.allocator->begin_capture(pool, reinterpret_cast<uint64_t>(s.stream));
}
void end_pool_capture(int device) {
  DeviceState& s = state(device);
  s.allocator->end_capture(reinterpret_cast<uint64_t>(s.stream));
}
void release_memory_pool(int device, CachingAllocator::PoolId pool) { state(device).allocator->release_pool(pool); }

// The device allocator behind allocator_for(Device::cuda(i)): the caching allocator, on the current stream.
class CudaCachingAdapter final : public Allocator {
 public:
  explicit CudaCachingAdapter(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    DeviceState& s = state(device_);
    return s.allocator->allocate(bytes, reinterpret_cast<uint64_t>(s.stream));
  }
  void deallocate(void* ptr, size_t) noexcept override {
    if (ptr) state(device_).allocator->deallocate(ptr);
  }

 private:
  int device_;
};

Allocator& device_allocator(int device) {
  static auto* adapters = new std::array<std::unique_ptr<CudaCachingAdapter>, kMaxDevices>();  // never destroyed
  static std::mutex mutex;
  check_device(device);
  std::lock_guard<std::mutex> lock(mutex);
  auto& a = (*adapters)[size_t(device)];
  if (!a) a = std::make_unique<CudaCachingAdapter>(device);
  return *a;
}

#else
[[noreturn]] static void no_cuda() { KILN_FAIL("this kiln was built without CUDA"); }
Stream current_stream(int) { no_cuda(); }
void set_current_stream(int, Stream) { no_cuda(); }
void synchronize(int) { no_cuda(); }
int current_device() { no_cuda(); }
void set_device(int) { no_cuda(); }
void use_device(int) { no_cuda(); }
AllocatorStats memory_stats(int) { no_cuda(); }
void reset_peak_memory_stats(int) { no_cuda(); }
void empty_cache(int) { no_cuda(); }
void set_memory_cap(int, size_t) { no_cuda(); }
size_t memory_cap(int) { no_cuda(); }
CachingAllocator::PoolId create_memory_pool(int) { no_cuda(); }
void begin_pool_capture(int, CachingAllocator::PoolId) { no_cuda(); }
void end_pool_capture(int) { no_cuda(); }
void release_memory_pool(int, CachingAllocator::PoolId) { no_cuda(); }
#endif

}  // namespace kiln::cuda
