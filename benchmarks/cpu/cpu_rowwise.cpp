// CPU speed of the row-wise kernels, plain reference loop vs what kiln calls (the fast path), float32:
// softmax and log_softmax 4096×1024 and GPT's attention rows 64·6·256×256, cross-entropy 16384×114,
// layer_norm 16384×384, batch_norm [128, 128, 14, 14] (training); forward and backward, outputs
// preallocated. Per call: the median process CPU time (all threads) and the best wall time of
// interleaved runs (reference, fast, reference, ...). Threads: OMP_NUM_THREADS.
// benchmarks/cpu/torch_rowwise.py times PyTorch on the same cases. A benchmark, not a test; build with
// -DKILN_BENCHMARKS=ON and run ./build/benchmarks/bench_cpu_rowwise [runs] [case: softmax, log_softmax,
// attention, cross_entropy, layer_norm, batch_norm; all when left out].
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/loss.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/softmax.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace kiln;

namespace {

// 64-byte aligned buffers, as kiln's CPU allocator gives (and PyTorch's).
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64)); }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const Aligned64&) const { return true; }
};
template <class T>
using Buffer = std::vector<T, Aligned64<T>>;

int g_runs = 7;
const char* g_only = nullptr;  // run just this case

bool wanted(const char* name) { return !g_only || std::string(g_only) == name; }

// One call's wall time and the process's CPU time (all threads), in ms. On a shared machine the CPU
// time is the steadier measure of the work; the best wall time shows what threads buy.
struct Timing {
  double wall, cpu;
};
Timing time_call(const std::function<void()>& fn) {
  auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
  };
  const double cpu0 = cpu_now();
  auto start = std::chrono::steady_clock::now();
  fn();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return {wall, cpu_now() - cpu0};
}

// Median CPU ms and best wall ms of the reference and the fast function, run alternately after a
// warm-up each.
void compare(const char* what, const std::function<void()>& reference, const std::function<void()>& fast) {
  reference();
  fast();
  std::vector<double> ref_cpu, fast_cpu, ref_wall, fast_wall;
  for (int i = 0; i < g_runs; ++i) {
    const Timing r = time_call(reference), f = time_call(fast);
    ref_cpu.push_back(r.cpu);
    ref_wall.push_back(r.wall);
    fast_cpu.push_back(f.cpu);
    fast_wall.push_back(f.wall);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  std::printf("%-44s reference cpu %9.3f wall %9.3f ms   fast cpu %8.3f wall %8.3f ms   %5.1fx\n", what,
              median(ref_cpu), best(ref_wall), median(fast_cpu), best(fast_wall), median(ref_cpu) / median(fast_cpu));
  std::fflush(stdout);
}

Buffer<float> normal(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  Buffer<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

void softmax_case(const char* name, int64_t rows, int64_t n, bool log) {
  const std::vector<int64_t> shape = {rows, n}, strides = {n, 1};
  Buffer<float> x = normal(size_t(rows * n), 1), dy = normal(size_t(rows * n), 2), y(x.size()), dx(x.size());
  char what[96];
  std::snprintf(what, sizeof what, "%s %lldx%lld forward", name, (long long)rows, (long long)n);
  compare(what, [&] { cpu::softmax_forward_reference(log, DType::Float32, shape, 1, x.data(), strides.data(), y.data()); },
          [&] { cpu::softmax_forward(log, DType::Float32, shape, 1, x.data(), strides.data(), y.data()); });
  std::snprintf(what, sizeof what, "%s %lldx%lld backward", name, (long long)rows, (long long)n);
  compare(what,
          [&] {
            cpu::softmax_backward_reference(log, DType::Float32, shape, 1, y.data(), strides.data(), dy.data(),
                                            strides.data(), dx.data());
          },
          [&] {
            cpu::softmax_backward(log, DType::Float32, shape, 1, y.data(), strides.data(), dy.data(), strides.data(),
                                  dx.data());
          });
}

void cross_entropy_case(int64_t N, int64_t C) {
  const std::vector<int64_t> shape = {N, C}, strides = {C, 1}, row = {1, 0}, scalar = {0, 0};
  Buffer<float> x = normal(size_t(N * C), 3), loss(static_cast<size_t>(N)), lse(static_cast<size_t>(N)), dx(x.size());
  Buffer<int64_t> target(static_cast<size_t>(N));
  for (int64_t p = 0; p < N; ++p) target[size_t(p)] = (p * 7919) % C;
  const float dy = 1.0f;
  char what[96];
  std::snprintf(what, sizeof what, "cross_entropy %lldx%lld forward", (long long)N, (long long)C);
  compare(what,
          [&] {
            cpu::cross_entropy_forward_reference(DType::Float32, shape, x.data(), strides.data(), target.data(),
                                                 row.data(), -100, 0.0, loss.data(), row.data(), lse.data(), row.data());
          },
          [&] {
            cpu::cross_entropy_forward(DType::Float32, shape, x.data(), strides.data(), target.data(), row.data(), -100,
                                       0.0, loss.data(), row.data(), lse.data(), row.data());
          });
  std::snprintf(what, sizeof what, "cross_entropy %lldx%lld backward", (long long)N, (long long)C);
  compare(what,
          [&] {
            cpu::cross_entropy_backward_reference(DType::Float32, shape, x.data(), strides.data(), target.data(),
                                                  row.data(), -100, 0.0, lse.data(), row.data(), &dy, scalar.data(),
                                                  1.0 / double(N), dx.data());
          },
          [&] {
            cpu::cross_entropy_backward(DType::Float32, shape, x.data(), strides.data(), target.data(), row.data(),
                                        -100, 0.0, lse.data(), row.data(), &dy, scalar.data(), 1.0 / double(N),
                                        dx.data());
          });
}

void layer_norm_case(int64_t M, int64_t K) {
  Buffer<float> x = normal(size_t(M * K), 4), dy = normal(size_t(M * K), 5), w = normal(size_t(K), 6),
                     b = normal(size_t(K), 7), y(x.size()), dx(x.size()), mean(static_cast<size_t>(M)), rstd(static_cast<size_t>(M)),
                     dw(static_cast<size_t>(K)), db(static_cast<size_t>(K));
  char what[96];
  std::snprintf(what, sizeof what, "layer_norm %lldx%lld forward", (long long)M, (long long)K);
  compare(what,
          [&] {
            cpu::layer_norm_forward_reference(DType::Float32, M, K, x.data(), w.data(), b.data(), 1e-5, y.data(),
                                              mean.data(), rstd.data());
          },
          [&] {
            cpu::layer_norm_forward(DType::Float32, M, K, x.data(), w.data(), b.data(), 1e-5, y.data(), mean.data(),
                                    rstd.data());
          });
  std::snprintf(what, sizeof what, "layer_norm %lldx%lld backward", (long long)M, (long long)K);
  compare(what,
          [&] {
            cpu::layer_norm_backward_reference(DType::Float32, M, K, x.data(), dy.data(), mean.data(), rstd.data(),
                                               w.data(), dx.data(), dw.data(), db.data());
          },
          [&] {
            cpu::layer_norm_backward(DType::Float32, M, K, x.data(), dy.data(), mean.data(), rstd.data(), w.data(),
                                     dx.data(), dw.data(), db.data());
          });
}

void batch_norm_case(int64_t N, int64_t C, int64_t H, int64_t W) {
  const int64_t S = H * W;
  Buffer<float> x = normal(size_t(N * C * S), 8), dy = normal(x.size(), 9), w = normal(size_t(C), 10),
                     b = normal(size_t(C), 11), y(x.size()), dx(x.size()), mean(static_cast<size_t>(C)), var(static_cast<size_t>(C)),
                     rstd(static_cast<size_t>(C)), dw(static_cast<size_t>(C)), db(static_cast<size_t>(C));
  char what[96];
  std::snprintf(what, sizeof what, "batch_norm [%lld,%lld,%lld,%lld] forward", (long long)N, (long long)C,
                (long long)H, (long long)W);
  compare(what,
          [&] {
            cpu::batch_norm_stats_reference(DType::Float32, N, C, S, x.data(), mean.data(), var.data());
            cpu::batch_norm_forward_reference(DType::Float32, N, C, S, x.data(), mean.data(), var.data(), 1e-5,
                                              w.data(), b.data(), y.data(), rstd.data());
          },
          [&] {
            cpu::batch_norm_stats(DType::Float32, N, C, S, x.data(), mean.data(), var.data());
            cpu::batch_norm_forward(DType::Float32, N, C, S, x.data(), mean.data(), var.data(), 1e-5, w.data(),
                                    b.data(), y.data(), rstd.data());
          });
  std::snprintf(what, sizeof what, "batch_norm [%lld,%lld,%lld,%lld] backward", (long long)N, (long long)C,
                (long long)H, (long long)W);
  compare(what,
          [&] {
            cpu::batch_norm_backward_reference(DType::Float32, N, C, S, x.data(), dy.data(), mean.data(), rstd.data(),
                                               w.data(), true, dx.data(), dw.data(), db.data());
          },
          [&] {
            cpu::batch_norm_backward(DType::Float32, N, C, S, x.data(), dy.data(), mean.data(), rstd.data(), w.data(),
                                     true, dx.data(), dw.data(), db.data());
          });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_runs = std::max(1, std::atoi(argv[1]));
  if (argc > 2) g_only = argv[2];
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  std::printf("kiln CPU row-wise kernels, float32, %d OpenMP thread(s), %d interleaved runs (median cpu, best wall)\n",
              threads, g_runs);
  if (wanted("softmax")) softmax_case("softmax", 4096, 1024, false);
  if (wanted("log_softmax")) softmax_case("log_softmax", 4096, 1024, true);
  if (wanted("attention")) softmax_case("softmax (GPT attention)", 64 * 6 * 256, 256, false);
  if (wanted("cross_entropy")) cross_entropy_case(16384, 114);
  if (wanted("layer_norm")) layer_norm_case(16384, 384);
  if (wanted("batch_norm")) batch_norm_case(128, 128, 14, 14);
  return 0;
}
