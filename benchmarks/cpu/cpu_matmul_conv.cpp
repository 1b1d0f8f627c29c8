// CPU speed of matmul (512³, float32; OpenBLAS and the plain reference loop) and of conv2d forward
// (N=64, 64→64 channels, 28×28, 3×3, padding 1; im2col + OpenBLAS). Prints the median time and GFLOP/s.
// A benchmark, not a test. Build with -DKILN_BENCHMARKS=ON; run ./build/benchmarks/bench_cpu_matmul_conv.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "kernels/cpu/gemm.h"

using namespace kiln;

namespace {

// Median wall time of `runs` calls of fn in seconds, after one warm-up call.
double median_seconds(int runs, const std::function<void()>& fn) {
  fn();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void report(const char* what, double flops, int runs, double seconds) {
  std::printf("%-66s median %9.3f ms  %8.2f GFLOP/s  (%d runs)\n", what, seconds * 1e3, flops / seconds / 1e9, runs);
}

}  // namespace

int main() {
  NoGradGuard no_grad;
  Generator gen(1234);
  std::printf("kiln CPU matmul/conv benchmark: OpenBLAS %s, %u hardware threads\n",
              cpu::blas_available() ? "available" : "NOT available (both paths are the plain loop)",
              std::thread::hardware_concurrency());

  const int64_t n = 512;
  Tensor a = randn({n, n}, {}, gen), b = randn({n, n}, {}, gen);
  const double matmul_flops = 2.0 * double(n) * double(n) * double(n);
  set_cpu_blas_enabled(true);
  report("matmul 512×512 · 512×512 float32, OpenBLAS", matmul_flops, 20,
         median_seconds(20, [&] { (void)matmul(a, b); }));
  set_cpu_blas_enabled(false);
  report("matmul 512×512 · 512×512 float32, plain loop (reference)", matmul_flops, 5,
         median_seconds(5, [&] { (void)matmul(a, b); }));
  set_cpu_blas_enabled(true);

  const int64_t batch = 64, channels = 64, size = 28, k = 3;
  Tensor x = randn({batch, channels, size, size}, {}, gen), w = randn({channels, channels, k, k}, {}, gen);
  Tensor bias = randn({channels}, {}, gen);
  const double conv_flops = 2.0 * double(batch) * double(channels) * double(size * size) * double(channels * k * k);
  report("conv2d fwd N=64 64→64 28×28 3×3 pad 1 float32, im2col+OpenBLAS", conv_flops, 10,
         median_seconds(10, [&] { (void)conv2d(x, w, bias, {1, 1}, {1, 1}); }));
  return 0;
}
