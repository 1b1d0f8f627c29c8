// CPU speed of the convolution and pooling layers of the classifier, DCGAN28 and the conv VAE (batch 128,
// float32, WORKLOADS.md's shapes): forward + backward (input gradient unless the layer reads the data,
// weight and bias gradients) of the fast path and of the plain reference loops, interleaved, median of
// several runs. benchmarks/cpu/torch_conv_pool_layers.py times the same layers in PyTorch.
// Threads: set OMP_NUM_THREADS and OPENBLAS_NUM_THREADS; KILN_BENCH_CLOCK=cpu times process CPU time. Usage: bench_cpu_conv_pool_layers [runs] [batch]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <ctime>
#include <vector>

#include "kernels/common/conv_math.h"
#include "kernels/common/pool_math.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/pool.h"

using namespace kiln;
using cpu::Conv2dGeometry;

namespace {

// KILN_BENCH_CLOCK=cpu: the process's CPU time (robust on a machine shared with other jobs, meaningful for
// one thread); otherwise wall-clock time.
bool g_cpu_clock = false;
double now_seconds() {
  if (!g_cpu_clock) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double seconds_of(const std::function<void()>& fn) {
  const double start = now_seconds();
  fn();
  return now_seconds() - start;
}

// Median times of a and b, run alternately (a, b, a, b, ...) after one warm-up each.
std::pair<double, double> interleaved_medians(int runs, const std::function<void()>& a, const std::function<void()>& b) {
  a();
  b();
  std::vector<double> ta, tb;
  for (int i = 0; i < runs; ++i) {
    ta.push_back(seconds_of(a));
    tb.push_back(seconds_of(b));
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

std::vector<float> random_floats(int64_t count) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& e : v) e = dist(rng);
  return v;
}

struct ConvLayer {
  std::string name;
  bool transposed;
  int64_t c_in, c_out, size, k, stride, pad;  // PyTorch's Conv2d / ConvTranspose2d arguments, input size × size
  bool input_grad;
};

// The conv2d geometry the kernels run: for a transposed layer, that of the conv2d it is the adjoint of.
Conv2dGeometry geometry_of(const ConvLayer& l, int64_t batch) {
  Conv2dGeometry g;
  g.batch = batch;
  g.kernel_h = g.kernel_w = l.k;
  g.stride_h = g.stride_w = l.stride;
  g.pad_h = g.pad_w = l.pad;
  if (!l.transposed) {
    g.in_channels = l.c_in, g.out_channels = l.c_out, g.in_h = g.in_w = l.size;
    g.out_h = g.out_w = conv_out_size(l.size, l.k, l.stride, l.pad, 1);
  } else {
    g.in_channels = l.c_out, g.out_channels = l.c_in, g.out_h = g.out_w = l.size;
    g.in_h = g.in_w = conv_transpose_out_size(l.size, l.k, l.stride, l.pad, 1, 0);
  }
  return g;
}

using ForwardFn = void (*)(const Conv2dGeometry&, const float*, const float*, const float*, float*);
using InputFn = void (*)(const Conv2dGeometry&, const float*, const float*, float*);
using WeightFn = void (*)(const Conv2dGeometry&, const float*, const float*, float*);
struct ConvPath {
  ForwardFn forward;
  InputFn input;
  WeightFn weight;
};

// One training step of the layer: forward, then the gradients PyTorch would compute.
void conv_step(const ConvLayer& l, const Conv2dGeometry& g, const ConvPath& p, std::vector<float>* t) {
  std::vector<float>&image = t[0], &cols = t[1], &w = t[2], &b = t[3], &d_image = t[4], &d_cols = t[5], &dw = t[6];
  std::vector<float>& db = t[7];
  const int64_t spatial_image = g.in_h * g.in_w, spatial_cols = g.out_h * g.out_w;
  if (!l.transposed) {  // x = image, y = cols
    p.forward(g, image.data(), w.data(), b.data(), cols.data());
    if (l.input_grad) p.input(g, d_cols.data(), w.data(), d_image.data());
    p.weight(g, image.data(), d_cols.data(), dw.data());
    cpu::sum_per_channel(g.batch, g.out_channels, spatial_cols, d_cols.data(), db.data());
  } else {  // x = cols, z = image
    p.input(g, cols.data(), w.data(), image.data());
    cpu::add_channel_bias(g.batch, g.in_channels, spatial_image, b.data(), image.data());
    if (l.input_grad) p.forward(g, d_image.data(), w.data(), nullptr, d_cols.data());
    p.weight(g, d_image.data(), cols.data(), dw.data());
    cpu::sum_per_channel(g.batch, g.in_channels, spatial_image, d_image.data(), db.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 9;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* clock = std::getenv("KILN_BENCH_CLOCK");
  g_cpu_clock = clock && std::string(clock) == "cpu";
  std::printf("kiln CPU conv/pool layers, batch %lld, float32, OMP_NUM_THREADS=%s, median of %d interleaved runs, %s\n",
              (long long)batch, omp ? omp : "(unset)", runs, g_cpu_clock ? "process CPU time" : "wall clock");
  std::printf("%-34s %12s %12s %8s\n", "layer (forward + backward)", "fast ms", "reference ms", "speedup");
  const std::vector<ConvLayer> layers = {
      {"classifier conv1 1→32 k3 p1 28", false, 1, 32, 28, 3, 1, 1, false},
      {"classifier conv2 32→64 k3 p1 14", false, 32, 64, 14, 3, 1, 1, true},
      {"dcgan G convT 100→256 k7 1", true, 100, 256, 1, 7, 1, 0, false},
      {"dcgan G convT 256→128 k4s2p1 7", true, 256, 128, 7, 4, 2, 1, true},
      {"dcgan G convT 128→1 k4s2p1 14", true, 128, 1, 14, 4, 2, 1, true},
      {"dcgan D conv 1→64 k4s2p1 28", false, 1, 64, 28, 4, 2, 1, false},
      {"dcgan D conv 64→128 k4s2p1 14", false, 64, 128, 14, 4, 2, 1, true},
      {"dcgan D conv 128→1 k7 7", false, 128, 1, 7, 7, 1, 0, true},
      {"vae conv 1→32 k4s2p1 28", false, 1, 32, 28, 4, 2, 1, false},
      {"vae conv 32→64 k4s2p1 14", false, 32, 64, 14, 4, 2, 1, true},
      {"vae convT 64→32 k4s2p1 7", true, 64, 32, 7, 4, 2, 1, true},
      {"vae convT 32→1 k4s2p1 14", true, 32, 1, 14, 4, 2, 1, true},
  };
  const ConvPath fast{cpu::conv2d_forward<float>, cpu::conv2d_backward_input<float>,
                      cpu::conv2d_backward_weight<float>};
  const ConvPath reference{cpu::conv2d_forward_reference<float>, cpu::conv2d_backward_input_reference<float>,
                           cpu::conv2d_backward_weight_reference<float>};
  double total_fast = 0, total_ref = 0;
  for (const ConvLayer& l : layers) {
    const Conv2dGeometry g = geometry_of(l, batch);
    const int64_t image = g.batch * g.in_channels * g.in_h * g.in_w, cols = g.batch * g.out_channels * g.out_h * g.out_w;
    const int64_t weights = g.out_channels * g.in_channels * g.kernel_h * g.kernel_w;
    const int64_t bias = l.transposed ? g.in_channels : g.out_channels;
    std::vector<float> t[8] = {random_floats(image), random_floats(cols), random_floats(weights), random_floats(bias),
                               random_floats(image), random_floats(cols), random_floats(weights), random_floats(bias)};
    auto [f, r] = interleaved_medians(runs, [&] { conv_step(l, g, fast, t); }, [&] { conv_step(l, g, reference, t); });
    std::printf("%-34s %12.3f %12.3f %7.2fx\n", l.name.c_str(), f * 1e3, r * 1e3, r / f);
    total_fast += f, total_ref += r;
  }
  // MaxPool2d(2) of the classifier (after each conv) and an AvgPool2d(2) of the same shapes.
  for (auto [channels, size] : {std::pair<int64_t, int64_t>{32, 28}, {64, 14}}) {
    cpu::Pool2dGeometry g;
    g.N = batch, g.C = channels, g.H = g.W = size, g.kH = g.kW = g.sH = g.sW = 2;
    g.Ho = g.Wo = pool_output_size(size, 2, 2, 0, 1);
    const int64_t in = g.N * g.C * g.H * g.W, out = g.N * g.C * g.Ho * g.Wo;
    const int64_t xs[4] = {g.C * g.H * g.W, g.H * g.W, g.W, 1}, ys[4] = {g.C * g.Ho * g.Wo, g.Ho * g.Wo, g.Wo, 1};
    std::vector<float> x = random_floats(in), y(static_cast<size_t>(out)), dy = random_floats(out), dx(static_cast<size_t>(in));
    std::vector<int64_t> argmax(static_cast<size_t>(out));
    const std::string shape = std::to_string(channels) + "×" + std::to_string(size);
    auto [f, r] = interleaved_medians(
        runs,
        [&] {
          cpu::max_pool2d_forward(DType::Float32, g, x.data(), xs, y.data(), argmax.data());
          cpu::max_pool2d_backward(DType::Float32, g, dy.data(), ys, argmax.data(), dx.data());
        },
        [&] {
          cpu::max_pool2d_forward_reference(DType::Float32, g, x.data(), xs, y.data(), argmax.data());
          cpu::max_pool2d_backward_reference(DType::Float32, g, dy.data(), ys, argmax.data(), dx.data());
        });
    std::printf("%-34s %12.3f %12.3f %7.2fx\n", ("classifier maxpool2 " + shape).c_str(), f * 1e3, r * 1e3, r / f);
    total_fast += f, total_ref += r;
    auto [fa, ra] = interleaved_medians(
        runs,
        [&] {
          cpu::avg_pool2d_forward(DType::Float32, g, true, x.data(), xs, y.data());
          cpu::avg_pool2d_backward(DType::Float32, g, true, dy.data(), ys, dx.data());
        },
        [&] {
          cpu::avg_pool2d_forward_reference(DType::Float32, g, true, x.data(), xs, y.data());
          cpu::avg_pool2d_backward_reference(DType::Float32, g, true, dy.data(), ys, dx.data());
        });
    std::printf("%-34s %12.3f %12.3f %7.2fx\n", ("avgpool2 " + shape).c_str(), fa * 1e3, ra * 1e3, ra / fa);
  }
  std::printf("%-34s %12.3f %12.3f %7.2fx\n", "total (conv layers + max pools)", total_fast * 1e3, total_ref * 1e3,
              total_ref / total_fast);
  return 0;
}
