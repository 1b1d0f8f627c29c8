// Memory and time of causal attention on the GPU, forward + backward, for T = 256 … 8192 (B = 1, H = 8,
// D = 64, float32): kiln's flash kernels (scaled_dot_product_attention) next to the materialized
// softmax(q·kᵀ·scale, mask)·v composed from kiln ops. Peak memory is the caching allocator's peak of
// allocated bytes during one forward + backward, minus what was allocated before (inputs, dout, mask).
// Prints a markdown table. A benchmark, not a test. Build with -DKILN_BENCHMARKS=ON in a CUDA build;
// run ./build/benchmarks/bench_attention_memory (see docs/cuda.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/random.h"

using namespace kiln;

namespace {

constexpr int kDevice = 0;

struct Measurement {
  bool ok = false;
  double ms = 0;          // median wall time of one forward + backward (the stream synchronized after each)
  double peak_mib = 0;    // peak allocated bytes during one forward + backward, above the baseline
  std::string error;
};

Measurement measure(int runs, const std::function<void()>& step) {
  Measurement m;
  try {
    step();  // warm-up: fills the allocator's cache, sets up the kernels
    cuda::synchronize(kDevice);
    const size_t baseline = cuda::memory_stats(kDevice).allocated;
    cuda::reset_peak_memory_stats(kDevice);
    step();
    cuda::synchronize(kDevice);
    m.peak_mib = double(cuda::memory_stats(kDevice).peak_allocated - baseline) / (1024.0 * 1024.0);
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      step();
      cuda::synchronize(kDevice);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    m.ms = times[times.size() / 2];
    m.ok = true;
  } catch (const Error& e) {
    m.error = e.what();
    cuda::synchronize(kDevice);
  }
  cuda::empty_cache(kDevice);
  return m;
}

std::string cell(const Measurement& m, bool memory) {
  if (!m.ok) return "out of memory";
  char buf[64];
  std::snprintf(buf, sizeof buf, memory ? "%.1f" : "%.3f", memory ? m.peak_mib : m.ms);
  return buf;
}

}  // namespace

int main() {
  if (!cuda_is_available()) {
    std::printf("no CUDA device: nothing to measure\n");
    return 0;
  }
  const int64_t B = 1, H = 8, D = 64;
  const double scale = 1.0 / std::sqrt(double(D));
  Generator gen(1234);
  const TensorOptions on_gpu{.dtype = DType::Float32, .device = Device::cuda(kDevice)};
  std::printf("causal attention, forward + backward, B = %lld, H = %lld, D = %lld, float32\n\n", (long long)B,
              (long long)H, (long long)D);
  std::printf("| T | flash ms | flash peak MiB | materialized ms | materialized peak MiB |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (int64_t T = 256; T <= 8192; T *= 2) {
    Tensor q = randn({B, H, T, D}, on_gpu, gen), k = randn({B, H, T, D}, on_gpu, gen);
    Tensor v = randn({B, H, T, D}, on_gpu, gen), dout = randn({B, H, T, D}, on_gpu, gen);
    for (Tensor* t : {&q, &k, &v}) t->requires_grad_();
    auto clear_grads = [&] {
      for (Tensor* t : {&q, &k, &v}) t->set_grad(Tensor());
    };
    const int runs = T <= 2048 ? 10 : 3;
    Measurement flash = measure(runs, [&] {
      clear_grads();
      scaled_dot_product_attention(q, k, v, /*causal=*/true).backward(dout);
    });
    // the materialized version: scores [B, H, T, T] and the probabilities are stored for backward
    Measurement materialized;
    try {
      Tensor positions = arange(T, on_gpu);
      Tensor hidden = gt(reshape(positions, {1, T}), reshape(positions, {T, 1}));  // key j > query i
      materialized = measure(runs, [&] {
        clear_grads();
        Tensor scores = masked_fill(mul(matmul(q, transpose(k, -2, -1)), scale), hidden,
                                    -std::numeric_limits<double>::infinity());
        matmul(softmax(scores, -1), v).backward(dout);
      });
    } catch (const Error& e) {
      materialized.error = e.what();
    }
    clear_grads();
    std::printf("| %lld | %s | %s | %s | %s |\n", (long long)T, cell(flash, false).c_str(), cell(flash, true).c_str(),
                cell(materialized, false).c_str(), cell(materialized, true).c_str());
    std::fflush(stdout);
    for (const Measurement* m : {&flash, &materialized})
      if (!m->ok && m->error.find("out of memory") == std::string::npos)
        std::fprintf(stderr, "T = %lld: %s\n", (long long)T, m->error.c_str());
  }
  return 0;
}
