// CPU speed of an LSTM's forward + backward (the char-LSTM's recurrent core, scaled down: 2 layers,
// hidden 512, input 128, batch 16) at T = 16, 32, 64, 128 steps, and of the backward of a GPT-style q/k/v
// split. Prints the median time per step and the peak bytes the CPU allocator held, so the growth with T
// is visible (linear is right; the view backward of issue 14 item 5 made it quadratic).
// A benchmark, not a test. Build with -DKILN_BENCHMARKS=ON; run with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
// ./build/benchmarks/bench_cpu_lstm [runs [max_T [fused|cell-loop|views-reference]]]; benchmarks/cpu/cpu_lstm_torch.py prints PyTorch's figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "core/allocator.h"
#include "core/autograd/node.h"
#include "core/ops/ops.h"
#include "core/ops/rnn.h"
#include "core/random.h"

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

// The peak bytes the CPU allocator held above what it held before fn ran, and the bytes of all allocations.
struct Memory {
  double peak_mib, allocated_mib;
};
Memory memory_of(const std::function<void()>& fn) {
  const MemoryCounters before = memory_counters(Device::cpu());
  reset_memory_peak(Device::cpu());
  fn();
  const MemoryCounters after = memory_counters(Device::cpu());
  const double mib = 1024.0 * 1024.0;
  return {double(after.peak - before.allocated) / mib, double(after.handed_out - before.handed_out) / mib};
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as soon as it is measured
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const int64_t max_T = argc > 2 ? std::atoll(argv[2]) : 128;
  // The path: "fused" (default: lstm_layer ops), "cell-loop" (the reference loop of kiln ops), or
  // "views-reference" (the cell loop with every view's backward building a whole-input zero tensor: as before
  // issue 14)
  const char* path = argc > 3 ? argv[3] : "fused";
  const bool views_reference = std::strcmp(path, "views-reference") == 0;
  set_in_place_view_gradients(!views_reference);
  RnnForwardOptions options;
  options.backend = std::strcmp(path, "fused") == 0 ? RnnBackend::FusedLayers : RnnBackend::CellLoop;
  Generator gen(1234);
  const int64_t N = 16, input = 128, H = 512, layers = 2;
  std::vector<Tensor> weights;
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t in = l == 0 ? input : H;
    for (Shape s : {Shape{4 * H, in}, Shape{4 * H, H}, Shape{4 * H}, Shape{4 * H}})
      weights.push_back(mul(randn(s, {}, gen), 0.04).requires_grad_());
  }
  std::printf("kiln LSTM forward+backward, %lld layers, hidden %lld, input %lld, batch %lld, float32, path %s\n",
              (long long)layers, (long long)H, (long long)input, (long long)N, path);
  for (int64_t T : {16, 32, 64, 128}) {
    if (T > max_T) break;
    Tensor x = randn({T, N, input}, {}, gen).requires_grad_();
    auto step = [&] {
      RnnOutput out = lstm(x, Tensor(), Tensor(), weights, options);
      sum(out.output).backward();
      for (Tensor& w : weights) w.impl()->grad = Tensor();
      x.impl()->grad = Tensor();
    };
    const double seconds = median_seconds(runs, step);
    const Memory m = memory_of(step);
    std::printf("T = %3lld  median %8.2f ms  (%6.3f ms per time step)  peak %6.1f MiB, allocated %8.1f MiB  (%d runs)\n",
                (long long)T, seconds * 1e3, seconds * 1e3 / double(T), m.peak_mib, m.allocated_mib, runs);
  }

  // GPT-style attention input: qkv [B, T, 3C] split into q, k, v along the last dim, each used once.
  const int64_t B = 8, T = 64, C = 256;
  Tensor qkv = randn({B, T, 3 * C}, {}, gen).requires_grad_();
  auto split_step = [&] {
    std::vector<Tensor> parts = split(qkv, C, 2);
    sum(mul(mul(parts[0], parts[1]), parts[2])).backward();
    qkv.impl()->grad = Tensor();
  };
  const double seconds = median_seconds(runs * 4, split_step);
  const Memory m = memory_of(split_step);
  std::printf("q/k/v split of [%lld, %lld, %lld], forward+backward  median %8.3f ms  peak %5.1f MiB, allocated %6.1f MiB\n",
              (long long)B, (long long)T, (long long)(3 * C), seconds * 1e3, m.peak_mib, m.allocated_mib);
  return 0;
}
