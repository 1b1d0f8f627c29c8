// CPU time of one training step of the Fashion-MNIST classifier (models/classifier: Conv(1→32,3,p1) ReLU
// MaxPool2, Conv(32→64,3,p1) ReLU MaxPool2, Linear 3136→128 ReLU, Linear 128→10; cross-entropy; Adam 1e-3)
// at batch 128, float32, on random data: median of several steps after warm-up.
// benchmarks/cpu/torch_classifier_step.py times the same step in PyTorch.
// Threads: OMP_NUM_THREADS and OPENBLAS_NUM_THREADS; KILN_BENCH_CLOCK=cpu times process CPU time.
// Usage: bench_cpu_classifier_step [steps] [batch]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/random.h"
#include "models/classifier.h"
#include "optim/optimizer.h"

using namespace kiln;

namespace {

double now_seconds(bool cpu_clock) {
  if (!cpu_clock) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 20;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
  const char* clock = std::getenv("KILN_BENCH_CLOCK");
  const bool cpu_clock = clock && std::string(clock) == "cpu";
  Generator gen(0);
  models::Classifier model(1, 10, gen);
  Adam adam(model.parameters(), 1e-3);
  const Tensor x = randn({batch, 1, 28, 28}, {}, gen);
  const Tensor target = randint(0, 10, {batch}, {.dtype = DType::Int64}, gen);
  auto step = [&] {
    adam.zero_grad();
    cross_entropy(model(x), target).backward();
    adam.step();
  };
  for (int i = 0; i < 3; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const double start = now_seconds(cpu_clock);
    step();
    times.push_back(now_seconds(cpu_clock) - start);
  }
  std::sort(times.begin(), times.end());
  std::printf("kiln classifier training step, batch %lld, float32: median %.3f ms (%s, %d steps)\n", (long long)batch,
              times[times.size() / 2] * 1e3, cpu_clock ? "process CPU time" : "wall clock", steps);
  return 0;
}
