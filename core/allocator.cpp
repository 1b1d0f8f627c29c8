#include "core/allocator.h"

#include <cstdlib>
#include <cstring>

#include "core/cuda_check.h"
#include "core/cuda_context.h"
#include "core/error.h"

namespace kiln {
#if KILN_HAVE_CUDA
namespace cuda {
Allocator& device_allocator(int device);  // core/cuda_context.cpp: the caching allocator
}
#endif
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


}  // namespace

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) {
    static CpuAllocator cpu;
    return cpu;
  }
#if KILN_HAVE_CUDA
  return cuda::device_allocator(device.index);
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
  // Ordered on the current stream of the GPU side, then waited for: a copy to or from the host is a
  // point where the user asked for values (and a pageable host buffer may be freed right after).
  if (src_device.is_cuda() && dst_device.is_cuda() && src_device.index != dst_device.index)
    cuda::synchronize(src_device.index);
  int device = dst_device.is_cuda() ? dst_device.index : src_device.index;
  auto stream = static_cast<cudaStream_t>(cuda::current_stream(device));
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
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
