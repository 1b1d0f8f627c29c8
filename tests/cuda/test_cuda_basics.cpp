// The CUDA pieces of the foundation, compared with the CPU: copies between devices (contiguous and
// strided, with dtype conversion), fills, and the Philox streams (same numbers on both devices).
// Skipped with a visible warning where no CUDA device is present.
#include "core/allocator.h"
#include "core/cuda_context.h"
#include "core/pinned_memory.h"
#include "core/random.h"
#include "cuda/conformance.h"

using namespace kiln;


TEST_CASE("CUDA: host↔device copies round-trip, strided and converted", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  Tensor x = arange(0.0, 60.0, 1.0, {.dtype = DType::Float64}).view({3, 4, 5});
  Tensor g = x.to(Device::cuda());
  CHECK(g.device() == Device::cuda());
  CHECK_CLOSE(g.cpu(), x, 0, 0);
  // a strided view on the GPU made contiguous there, then brought back
  Tensor gt = g.permute({2, 0, 1}).contiguous();
  CHECK_CLOSE(gt.cpu(), x.permute({2, 0, 1}).contiguous(), 0, 0);
  // conversion on the GPU
  CHECK_CLOSE(g.to(DType::Float32).cpu(), x, 0, 0);
  // copy_ from a CPU tensor into a strided GPU view
  Tensor dst = zeros({5, 4}, {.dtype = DType::Float64, .device = Device::cuda()});
  dst.t().copy_(x[0]);
  CHECK_CLOSE(dst.cpu(), x[0].t().contiguous(), 0, 0);
  CHECK(g[2][3][4].item() == 59);
}

TEST_CASE("CUDA: fills match the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor g = full({7, 3}, 2.0, {.dtype = dt, .device = Device::cuda()});
    CHECK_CLOSE(g.cpu(), std::vector<double>(21, 2.0), 0, 0);
  }
  Tensor g = zeros({4, 6}, {.device = Device::cuda()});
  g.slice(1, 1, 6, 2).fill_(3.0);
  CHECK_CLOSE(g.cpu().select(0, 0), {0, 3, 0, 3, 0, 3}, 0, 0);
}

TEST_CASE("CUDA: the caching allocator serves a steady loop without new device allocations", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (int i = 0; i < 3; ++i) (void)zeros({1000, 1000}, {.device = Device::cuda()});
  AllocatorStats before = cuda::memory_stats(0);
  for (int i = 0; i < 10; ++i) (void)zeros({1000, 1000}, {.device = Device::cuda()});
  AllocatorStats after = cuda::memory_stats(0);
  CHECK(after.raw_allocs == before.raw_allocs);
  CHECK(after.cache_hits >= before.cache_hits + 10);
  CHECK(after.allocated == before.allocated);
  // out of memory is an exception naming the size, not an abort
  CHECK_THROWS_WITH_TEXT(empty({int64_t(1) << 50}, {.device = Device::cuda()}), "out of memory: tried to allocate");
  cuda::empty_cache(0);
  CHECK(cuda::memory_stats(0).reserved == cuda::memory_stats(0).allocated);
}

TEST_CASE("CUDA: Philox draws equal the CPU's element for element", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (int64_t n : {1, 3, 127, 1025, 100003}) {
    INFO("n = " << n);
    Generator gc(99), gg(99);
    // uniform and integers are exact; normals go through log/sin/cos in double on both devices
    CHECK_CLOSE(rand({n}, {.dtype = DType::Float64}, gc),
                rand({n}, {.dtype = DType::Float64, .device = Device::cuda()}, gg).cpu(), 0, 0);
    CHECK_CLOSE(rand({n}, {}, gc), rand({n}, {.device = Device::cuda()}, gg).cpu(), 0, 0);
    CHECK_CLOSE(randn({n}, {.dtype = DType::Float64}, gc),
                randn({n}, {.dtype = DType::Float64, .device = Device::cuda()}, gg).cpu(), 1e-14, 1e-14);
    CHECK_CLOSE(randn({n}, {}, gc), randn({n}, {.device = Device::cuda()}, gg).cpu(), 1e-6, 1e-6);
    CHECK(randint(-5, 9, {n}, {}, gc).to_vector<int64_t>() ==
          randint(-5, 9, {n}, {.device = Device::cuda()}, gg).cpu().to_vector<int64_t>());
  }
}

TEST_CASE("CUDA: pinned host memory and asynchronous host→device copies", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  Tensor x = arange(0.0, 1000.0, 1.0).view({10, 100});
  Tensor p = pin_memory(x.t());
  CHECK(is_pinned(p));
  CHECK_FALSE(is_pinned(x));
  CHECK_CLOSE(p, x.t().contiguous(), 0, 0);
  for (int round = 0; round < 3; ++round) {  // freed pinned blocks come back only once their copies are done
    Tensor staged = pin_memory(x);
    Tensor g = to_device_async(staged, Device::cuda());
    CHECK_CLOSE(g.cpu(), x, 0, 0);
  }
  CHECK_THROWS_WITH_TEXT(to_device_async(x, Device::cuda()), "made by pin_memory()");
}
