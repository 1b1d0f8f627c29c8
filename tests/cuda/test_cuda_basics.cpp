// The CUDA pieces of the foundation, compared with the CPU: copies between devices (contiguous and
// strided, with dtype conversion), fills, and the Philox streams (same numbers on both devices).
// Skipped with a visible warning where no CUDA device is present.
#include "core/allocator.h"
#include "core/random.h"
#include "kiln_test.h"

using namespace kiln;

#define KILN_REQUIRE_CUDA()                  \
  if (!cuda_is_available()) {                \
    WARN("no CUDA device: skipped");         \
    return;                                  \
  }

TEST_CASE("CUDA: host↔device copies round-trip, strided and converted", "[cuda]") {
  KILN_REQUIRE_CUDA();
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
  KILN_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor g = full({7, 3}, 2.0, {.dtype = dt, .device = Device::cuda()});
    CHECK_CLOSE(g.cpu(), std::vector<double>(21, 2.0), 0, 0);
  }
  Tensor g = zeros({4, 6}, {.device = Device::cuda()});
  g.slice(1, 1, 6, 2).fill_(3.0);
  CHECK_CLOSE(g.cpu().select(0, 0), {0, 3, 0, 3, 0, 3}, 0, 0);
}

TEST_CASE("CUDA: Philox draws equal the CPU's element for element", "[cuda]") {
  KILN_REQUIRE_CUDA();
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
