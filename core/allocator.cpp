#include "core/allocator.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/cuda_check.h"
#include "core/error.h"

namespace kiln {
namespace {

constexpr size_t kCpuAlignment = 64;  // a cache line, and enough for AVX-512 loads

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    KILN_CHECK(p != nullptr, "out of CPU memory: could not allocate ", bytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t) noexcept override { std::free(ptr); }
};

#if KILN_HAVE_CUDA
class PlainCudaAllocator final : public Allocator {
 public:
  explicit PlainCudaAllocator(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    KILN_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky OOM error
      size_t free_bytes = 0, total = 0;
      (void)cudaMemGetInfo(&free_bytes, &total);
      KILN_FAIL("CUDA out of memory on cuda:", device_, ": tried to allocate ", bytes, " bytes; ", free_bytes,
                " bytes free of ", total, " (", cudaGetErrorString(err), ")");
    }
    return p;
  }
  void deallocate(void* ptr, size_t) noexcept override {
    if (ptr) KILN_CUDA_CHECK_NOTHROW(cudaFree(ptr));
  }

 private:
  int device_;
};
#endif

}  // namespace

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) {
    static CpuAllocator cpu;
    return cpu;
  }
#if KILN_HAVE_CUDA
  KILN_CHECK(device.index >= 0 && device.index < cuda_device_count(), "device ", device.str(),
             " is not available (", cuda_device_count(), " CUDA devices visible)");
  static PlainCudaAllocator* per_device[16] = {};
  KILN_CHECK(device.index < 16, "device ", device.str(), ": at most 16 CUDA devices are supported");
  if (!per_device[device.index]) per_device[device.index] = new PlainCudaAllocator(device.index);
  return *per_device[device.index];
#else
  KILN_FAIL("device ", device.str(), " requested but this kiln was built without CUDA");
#endif
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  // Synchronous on purpose: a copy to or from the host is a point where the user asked for values.
  KILN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
#else
  KILN_FAIL("copy between ", src_device.str(), " and ", dst_device.str(), ": this kiln was built without CUDA");
#endif
}

int cuda_device_count() {
#if KILN_HAVE_CUDA
  static int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

bool cuda_is_available() { return cuda_device_count() > 0; }

}  // namespace kiln
