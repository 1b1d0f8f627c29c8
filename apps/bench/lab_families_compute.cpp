// The kernel lab's compute-bound families (docs/kernel-lab.md): GEMM, convolution, LSTM and attention. Their rate
// is floating-point operations per second, compared with the library's rate on the same problem (cuBLAS, cuDNN,
// OpenBLAS), or with the library SGEMM where the family has no library version on the device.
// A new version is one more .add(...) line in its family below.
#include <cmath>
#include <limits>
#include <memory>

#include "apps/bench/lab_buffers.h"
#include "apps/bench/lab_registry.h"
#include "core/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/copy.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/rnn_cell.h"
#include "kernels/cpu/softmax.h"

#if KILN_HAVE_CUDA
#include "kernels/cublas/cublas_gemm.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/rnn_cell.h"
#include "kernels/cuda/sgemm.h"
#include "kernels/cuda/softmax.h"
#include "kernels/cudnn/cudnn_conv.h"
#include "kernels/cudnn/cudnn_rnn.h"
#endif

namespace kiln::apps::bench {
namespace {

constexpr DeviceType CPU = DeviceType::CPU;
[[maybe_unused]] constexpr DeviceType CUDA = DeviceType::CUDA;

// Families here measure flops against the library.
template <class P>
std::shared_ptr<LabFamily<P>> new_family(const char* name, const char* measures, const char* cost_model) {
  return new_lab_family<P>(name, measures, cost_model, CostUnit::Flops, ReferenceKind::Library);
}

// Runs fn with OpenBLAS switched on or off for kiln::cpu::gemm, then restores the previous setting.
template <class F>
void with_blas(bool enabled, F&& fn) {
  const bool before = cpu::blas_enabled();
  cpu::set_blas_enabled(enabled);
  try {
    fn();
  } catch (...) {
    cpu::set_blas_enabled(before);
    throw;
  }
  cpu::set_blas_enabled(before);
}

#if KILN_HAVE_CUDA
// The same for the CUDA GEMM backend (cuBLAS or kiln's SGEMM) and for cuDNN in convolutions.
template <class F>
void with_cuda_gemm(cuda::GemmBackend backend, F&& fn) {
  const auto before = cuda::cuda_gemm_backend();
  cuda::set_cuda_gemm_backend(backend);
  try {
    fn();
  } catch (...) {
    cuda::set_cuda_gemm_backend(before);
    throw;
  }
  cuda::set_cuda_gemm_backend(before);
}
template <class F>
void with_cudnn(bool enabled, F&& fn) {
  const bool before = cuda::cudnn_enabled();
  cuda::set_cudnn_enabled(enabled);
  try {
    fn();
  } catch (...) {
    cuda::set_cudnn_enabled(before);
    throw;
  }
  cuda::set_cudnn_enabled(before);
}
#endif

}  // namespace

// ---------------------------------------------------------------- GEMM: C [M, N] = A [M, K] · B [K, N]
struct GemmProblem {
  int64_t M = 0, N = 0, K = 0;
  std::vector<float> host_a, host_b;
  LabBuffer a, b, c;
};

std::shared_ptr<LabFamilyBase> gemm_family() {
  auto f = new_family<GemmProblem>("gemm", "C = A·B, float32 row-major, A [M, K], B [K, N] (dims: M, N, K)",
                                   "flops = 2·M·N·K");
  f->check_shapes = {{1, 1, 1}, {33, 17, 65}, {64, 64, 64}, {127, 129, 31}, {5, 200, 130}};
  f->cuda_shape = {4096, 4096, 4096};
  f->cpu_shape = {512, 512, 512};
  f->quick_shape = {64, 64, 64};
  f->work = [](const LabDims& d) { return 2.0 * double(d[0]) * double(d[1]) * double(d[2]); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<GemmProblem>();
    p->M = d[0];
    p->N = d[1];
    p->K = d[2];
    p->host_a = random_floats(p->M * p->K, 21);
    p->host_b = random_floats(p->K * p->N, 22);
    p->a = upload(p->host_a, dev);
    p->b = upload(p->host_b, dev);
    p->c = zeros_f32(p->M * p->N, dev);
    return p;
  };
  f->expected = [](const GemmProblem& p) {
    const auto a = to_double(p.host_a), b = to_double(p.host_b);
    std::vector<double> c(static_cast<size_t>(p.M * p.N));
    cpu::gemm_reference<double>(false, false, p.M, p.N, p.K, 1.0, a.data(), p.K, b.data(), p.N, 0.0, c.data(), p.N);
    return c;
  };
  f->result = [](const GemmProblem& p) { return download(p.c); };
  f->add(CPU, "v1", "the plain loop of kernels/cpu/gemm (gemm_reference: dot products in double, rows over OpenMP)",
         [](GemmProblem& p) {
           cpu::gemm_reference<float>(false, false, p.M, p.N, p.K, 1.f, p.a.f(), p.K, p.b.f(), p.N, 0.f, p.c.f(), p.N);
         });
  if (cpu::blas_available())
    f->add(CPU, "OpenBLAS", "cblas_sgemm through kiln::cpu::gemm",
           [](GemmProblem& p) {
             with_blas(true, [&] {
               cpu::gemm<float>(false, false, p.M, p.N, p.K, 1.f, p.a.f(), p.K, p.b.f(), p.N, 0.f, p.c.f(), p.N);
             });
           },
           true, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/sgemm: 64×64 block tiles, 16-deep K slices in shared memory, 4×4 per thread",
         [](GemmProblem& p) {
           cuda::sgemm_kiln_strided_batched(false, false, p.M, p.N, p.K, 1.f, p.a.f(), p.K, 0, p.b.f(), p.N, 0, 0.f,
                                            p.c.f(), p.N, 0, 1);
         });
  f->add(CUDA, "cuBLAS", "cublasGemmStridedBatchedEx, float32 (TF32 only when kiln::allow_tf32(): off here)",
         [](GemmProblem& p) {
           cuda::cublas_gemm_strided_batched<float>(false, false, p.M, p.N, p.K, 1.f, p.a.f(), p.K, 0, p.b.f(), p.N, 0,
                                                    0.f, p.c.f(), p.N, 0, 1);
         },
         true, true);
#endif
  return f;
}

// ---------------------------------------------------------------- convolution (conv2d forward, no bias)
struct ConvProblem {
  cpu::Conv2dGeometry g;
  std::vector<float> host_x, host_w;
  LabBuffer x, w, y;
};

static cpu::Conv2dGeometry conv_geometry(const LabDims& d) {
  cpu::Conv2dGeometry g;
  g.batch = d[0];
  g.in_channels = d[1];
  g.in_h = d[2];
  g.in_w = d[3];
  g.out_channels = d[4];
  g.kernel_h = g.kernel_w = d[5];
  g.stride_h = g.stride_w = d[6];
  g.pad_h = g.pad_w = d[7];
  g.out_h = (g.in_h + 2 * g.pad_h - g.kernel_h) / g.stride_h + 1;
  g.out_w = (g.in_w + 2 * g.pad_w - g.kernel_w) / g.stride_w + 1;
  return g;
}

std::shared_ptr<LabFamilyBase> conv_family() {
  auto f = new_family<ConvProblem>(
      "conv", "conv2d forward, float32 NCHW, no bias (dims: N, C_in, H, W, C_out, k, stride, pad)",
      "flops = 2·N·C_out·Ho·Wo·C_in·k·k");
  f->check_shapes = {{1, 1, 1, 1, 1, 1, 1, 0}, {2, 3, 7, 7, 4, 3, 1, 1}, {3, 5, 9, 8, 6, 4, 2, 1},
                     {1, 8, 12, 11, 16, 1, 1, 0}};
  f->cuda_shape = {128, 64, 14, 14, 128, 4, 2, 1};  // dcgan28's discriminator, second convolution
  f->cpu_shape = {16, 64, 14, 14, 128, 4, 2, 1};
  f->quick_shape = {2, 8, 8, 8, 16, 3, 1, 1};
  f->work = [](const LabDims& d) {
    const auto g = conv_geometry(d);
    return 2.0 * double(g.batch * g.out_channels * g.out_h * g.out_w) *
           double(g.in_channels * g.kernel_h * g.kernel_w);
  };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<ConvProblem>();
    p->g = conv_geometry(d);
    const auto& g = p->g;
    p->host_x = random_floats(g.batch * g.in_channels * g.in_h * g.in_w, 31);
    p->host_w = random_floats(g.out_channels * g.in_channels * g.kernel_h * g.kernel_w, 32);
    p->x = upload(p->host_x, dev);
    p->w = upload(p->host_w, dev);
    p->y = zeros_f32(g.batch * g.out_channels * g.out_h * g.out_w, dev);
    return p;
  };
  f->expected = [](const ConvProblem& p) {
    const auto x = to_double(p.host_x), w = to_double(p.host_w);
    std::vector<double> y(static_cast<size_t>(p.g.batch * p.g.out_channels * p.g.out_h * p.g.out_w));
    with_blas(false, [&] { cpu::conv2d_forward_reference<double>(p.g, x.data(), w.data(), nullptr, y.data()); });
    return y;
  };
  f->result = [](const ConvProblem& p) { return download(p.y); };
  f->add(CPU, "v1", "kernels/cpu/conv reference: im2col per image, then the plain GEMM loop",
         [](ConvProblem& p) {
           with_blas(false, [&] { cpu::conv2d_forward_reference<float>(p.g, p.x.f(), p.w.f(), nullptr, p.y.f()); });
         });
  if (cpu::blas_available())
    f->add(CPU, "v2", "im2col per image, then OpenBLAS sgemm (blocked, vectorized) for the product",
           [](ConvProblem& p) {
             with_blas(true, [&] { cpu::conv2d_forward_reference<float>(p.g, p.x.f(), p.w.f(), nullptr, p.y.f()); });
           });
  f->add(CPU, "v3", "row-wise im2col (contiguous copies), whole-image kernels as one GEMM, images over OpenMP",
         [](ConvProblem& p) {
           with_blas(cpu::blas_available(),
                     [&] { cpu::conv2d_forward<float>(p.g, p.x.f(), p.w.f(), nullptr, p.y.f()); });
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/conv fallback: im2col kernel, then kiln's SGEMM",
         [](ConvProblem& p) {
           with_cudnn(false, [&] {
             with_cuda_gemm(cuda::GemmBackend::Kiln,
                            [&] { cuda::conv2d_forward<float>(p.g, p.x.f(), p.w.f(), nullptr, p.y.f()); });
           });
         });
  f->add(CUDA, "v2", "im2col kernel, then cuBLAS for the product (the fallback the framework takes without cuDNN)",
         [](ConvProblem& p) {
           with_cudnn(false, [&] {
             with_cuda_gemm(cuda::GemmBackend::Cublas,
                            [&] { cuda::conv2d_forward<float>(p.g, p.x.f(), p.w.f(), nullptr, p.y.f()); });
           });
         },
         false, !cuda::cudnn_available());
  if (cuda::cudnn_available())
    f->add(CUDA, "cuDNN", "cudnnConvolutionForward with the algorithm kernels/cudnn picks",
           [](ConvProblem& p) {
             KILN_CHECK(cuda::cudnn_conv2d_forward(p.g, DType::Float32, p.x.f(), p.w.f(), p.y.f()),
                        "cuDNN cannot run this convolution");
           },
           true, true);
#endif
  return f;
}

// ---------------------------------------------------------------- LSTM: one layer forward over T steps
// dims: T, N, I, H. Gates are x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh in PyTorch's order (i, f, g, o); h0 = c0 = 0.
struct LstmProblem {
  int64_t T = 0, N = 0, I = 0, H = 0;
  std::vector<float> host_x, host_wih, host_whh, host_bih, host_bhh;
  LabBuffer x, wih, whh, bias, gates, y, c[2], zeros;
  LabBuffer cudnn_weight_space;  // PyTorch's parameters packed as cuDNN wants them, made on first use
  Device device;
};

// The cell loop at kernel level, as core/ops/rnn.cpp's cell_loop does with ops: gates of all T steps start
// as the bias and get x·W_ihᵀ in one GEMM; per step h·W_hhᵀ is added by a GEMM and the cell kernel runs.
// Returns c_T's buffer index. T is the element type; Gemm, Copy and Cell call the device's kernels.
template <class T, class Gemm, class Copy, class Cell>
int lstm_cell_loop(int64_t steps, int64_t N, int64_t I, int64_t H, const T* x, const T* wih, const T* whh,
                   const T* bias, T* gates, T* y, T* const c[2], const T* zeros, Gemm gemm, Copy copy, Cell cell) {
  const int64_t G = 4 * H;
  copy(std::vector<int64_t>{steps * N, G}, gates, bias);
  gemm(false, true, steps * N, G, I, x, I, wih, I, gates, G);
  int cur = 0;
  for (int64_t t = 0; t < steps; ++t) {
    T* g = gates + t * N * G;
    const T* h_prev = t == 0 ? zeros : y + (t - 1) * N * H;
    if (t > 0) gemm(false, true, N, G, H, h_prev, H, whh, H, g, G);
    const T* c_prev = t == 0 ? zeros : c[cur];
    cell(N, H, g, c_prev, y + t * N * H, c[1 - cur]);
    cur = 1 - cur;
  }
  return cur;
}

std::shared_ptr<LabFamilyBase> lstm_family() {
  auto f = new_family<LstmProblem>(
      "lstm", "one LSTM layer forward over T steps, float32, h0 = c0 = 0 (dims: T, N, I, H)",
      "flops = 2·T·N·4H·(I + H) (the two products; the cell's pointwise math is not counted)");
  f->check_shapes = {{1, 1, 1, 1}, {3, 2, 5, 4}, {5, 3, 7, 9}, {2, 1, 16, 8}};
  f->cuda_shape = {128, 64, 512, 512};  // charlstm's second layer
  f->cpu_shape = {32, 16, 256, 256};
  f->quick_shape = {4, 3, 8, 8};
  f->tolerance = 2e-4;  // T steps of float32 recurrences
  f->work = [](const LabDims& d) { return 2.0 * double(d[0] * d[1]) * double(4 * d[3]) * double(d[2] + d[3]); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<LstmProblem>();
    p->T = d[0];
    p->N = d[1];
    p->I = d[2];
    p->H = d[3];
    p->device = dev;
    const float r = 1.f / std::sqrt(float(p->H));
    p->host_x = random_floats(p->T * p->N * p->I, 41);
    p->host_wih = random_floats(4 * p->H * p->I, 42, -r, r);
    p->host_whh = random_floats(4 * p->H * p->H, 43, -r, r);
    p->host_bih = random_floats(4 * p->H, 44, -r, r);
    p->host_bhh = random_floats(4 * p->H, 45, -r, r);
    std::vector<float> bias(static_cast<size_t>(4 * p->H));
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = p->host_bih[i] + p->host_bhh[i];
    p->x = upload(p->host_x, dev);
    p->wih = upload(p->host_wih, dev);
    p->whh = upload(p->host_whh, dev);
    p->bias = upload(bias, dev);
    p->gates = zeros_f32(p->T * p->N * 4 * p->H, dev);
    p->y = zeros_f32(p->T * p->N * p->H, dev);
    p->c[0] = zeros_f32(p->N * p->H, dev);
    p->c[1] = zeros_f32(p->N * p->H, dev);
    p->zeros = zeros_f32(p->N * p->H, dev);
    return p;
  };
  f->expected = [](const LstmProblem& p) {
    const auto x = to_double(p.host_x), wih = to_double(p.host_wih), whh = to_double(p.host_whh);
    std::vector<double> bias(static_cast<size_t>(4 * p.H)), gates(static_cast<size_t>(p.T * p.N * 4 * p.H)), y(static_cast<size_t>(p.T * p.N * p.H));
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = double(p.host_bih[i]) + double(p.host_bhh[i]);
    std::vector<double> c0(static_cast<size_t>(p.N * p.H)), c1(c0.size()), zeros(c0.size());
    double* const c[2] = {c0.data(), c1.data()};
    const int last = lstm_cell_loop<double>(
        p.T, p.N, p.I, p.H, x.data(), wih.data(), whh.data(), bias.data(), gates.data(), y.data(), c, zeros.data(),
        [](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
           int64_t ldb, double* out, int64_t ldc) {
          cpu::gemm_reference<double>(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 1.0, out, ldc);
        },
        [](const std::vector<int64_t>& shape, double* dst, const double* src) {
          const int64_t ds[2] = {shape[1], 1}, ss[2] = {0, 1};
          cpu::copy_strided(shape, dst, DType::Float64, ds, src, DType::Float64, ss);
        },
        [](int64_t N, int64_t H, const double* g, const double* cp, double* h, double* cn) {
          cpu::lstm_cell_forward(DType::Float64, N, H, g, cp, h, cn);
        });
    y.insert(y.end(), c[last], c[last] + p.N * p.H);
    return y;
  };
  f->result = [](const LstmProblem& p) {
    // The loop leaves c_T in c[T % 2].
    auto out = download(p.y);
    append(out, download(p.c[p.T % 2]));
    return out;
  };
  f->add(CPU, "v1",
         "the cell loop of core/ops/rnn.cpp at kernel level: input projection of all steps in one GEMM, then per "
         "step a GEMM (OpenBLAS when built) and kernels/cpu/rnn_cell",
         [](LstmProblem& p) {
           float* const c[2] = {p.c[0].f(), p.c[1].f()};
           lstm_cell_loop<float>(
               p.T, p.N, p.I, p.H, p.x.f(), p.wih.f(), p.whh.f(), p.bias.f(), p.gates.f(), p.y.f(), c, p.zeros.f(),
               [](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* out, int64_t ldc) {
                 cpu::gemm<float>(ta, tb, m, n, k, 1.f, a, lda, b, ldb, 1.f, out, ldc);
               },
               [](const std::vector<int64_t>& shape, float* dst, const float* src) {
                 const int64_t ds[2] = {shape[1], 1}, ss[2] = {0, 1};
                 cpu::copy_strided(shape, dst, DType::Float32, ds, src, DType::Float32, ss);
               },
               [](int64_t N, int64_t H, const float* g, const float* cp, float* h, float* cn) {
                 cpu::lstm_cell_forward(DType::Float32, N, H, g, cp, h, cn);
               });
         },
         false, true);
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "the cell loop at kernel level: one input-projection GEMM, then per step cuBLAS + the cell kernel",
         [](LstmProblem& p) {
           float* const c[2] = {p.c[0].f(), p.c[1].f()};
           lstm_cell_loop<float>(
               p.T, p.N, p.I, p.H, p.x.f(), p.wih.f(), p.whh.f(), p.bias.f(), p.gates.f(), p.y.f(), c, p.zeros.f(),
               [](bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* out, int64_t ldc) {
                 cuda::gemm<float>(ta, tb, m, n, k, 1.f, a, lda, b, ldb, 1.f, out, ldc);
               },
               [](const std::vector<int64_t>& shape, float* dst, const float* src) {
                 const int64_t ds[2] = {shape[1], 1}, ss[2] = {0, 1};
                 cuda::copy_strided(shape, dst, DType::Float32, ds, src, DType::Float32, ss);
               },
               [](int64_t N, int64_t H, const float* g, const float* cp, float* h, float* cn) {
                 cuda::lstm_cell_forward(DType::Float32, N, H, g, cp, h, cn);
               });
         },
         false, !cuda::cudnn_available());
  if (cuda::cudnn_available())
    f->add(CUDA, "cuDNN", "cudnnRNNForward (v8 API), inference mode, whole sequence in one call",
           [](LstmProblem& p) {
             const cuda::CudnnRnnShape shape{true, p.I, p.H, 1, p.T, p.N};
             if (!p.cudnn_weight_space.tensor.defined()) {  // packed once per problem, outside the timing
               cuda::CudnnRnnPlanInfo info;
               KILN_CHECK(cuda::cudnn_rnn_prepare(shape, DType::Float32, &info), "cuDNN cannot run this LSTM");
               std::vector<float> space(static_cast<size_t>(info.weight_space_numel), 0.f);
               const std::vector<float>* params[4] = {&p.host_wih, &p.host_whh, &p.host_bih, &p.host_bhh};
               for (const auto& run : info.runs)
                 for (int64_t i = 0; i < run.numel; ++i)
                   space[size_t(run.space_offset + i)] = (*params[run.which])[size_t(run.param_offset + i)];
               p.cudnn_weight_space = upload(space, p.device);
             }
             cuda::cudnn_rnn_forward(shape, DType::Float32, p.cudnn_weight_space.f(), p.x.f(), nullptr, nullptr,
                                     p.y.f(), nullptr, p.c[p.T % 2].f(), false, nullptr);
           },
           true, true);
#endif
  f->missing_cpu = {"no library LSTM on the CPU: the reference figure is OpenBLAS sgemm's rate"};
  return f;
}

// ---------------------------------------------------------------- attention forward
// dims: B (batch × heads), T (= Tq = Tk), D (= Dv), causal (0 or 1); scale 1/√D.
struct AttentionProblem {
  cpu::AttentionShape s{};
  bool causal = false;
  double scale = 1;
  std::vector<float> host_q, host_k, host_v;
  LabBuffer q, k, v, out, lse, scores, probs, minus_inf;
  Tensor mask;  // bool [T, T]: true where query i sees key j
};

std::shared_ptr<LabFamilyBase> attention_family() {
  auto f = new_family<AttentionProblem>(
      "attention", "scaled dot-product attention forward, float32 q, k, v [B, T, D] (dims: B·heads, T, D, causal)",
      "flops = 4·B·T·T·D, halved when causal");
  f->check_shapes = {{1, 1, 1, 1}, {1, 5, 3, 1}, {2, 17, 8, 1}, {3, 33, 16, 0}, {1, 64, 64, 1}};
  f->cuda_shape = {384, 256, 64, 1};  // the gpt workload: batch 64 × 6 heads, context 256, head dim 64
  f->cpu_shape = {24, 256, 64, 1};
  f->quick_shape = {2, 16, 8, 1};
  f->work = [](const LabDims& d) { return 4.0 * double(d[0]) * double(d[1] * d[1]) * double(d[2]) * (d[3] ? 0.5 : 1); };
  f->make = [](const LabDims& d, Device dev) {
    auto p = std::make_unique<AttentionProblem>();
    p->s = {d[0], d[1], d[1], d[2], d[2]};
    p->causal = d[3] != 0;
    p->scale = 1.0 / std::sqrt(double(d[2]));
    const int64_t n = d[0] * d[1] * d[2];
    p->host_q = random_floats(n, 51);
    p->host_k = random_floats(n, 52);
    p->host_v = random_floats(n, 53);
    p->q = upload(p->host_q, dev);
    p->k = upload(p->host_k, dev);
    p->v = upload(p->host_v, dev);
    p->out = zeros_f32(n, dev);
    p->lse = zeros_f32(d[0] * d[1], dev);
    p->scores = zeros_f32(d[0] * d[1] * d[1], dev);
    p->probs = zeros_f32(d[0] * d[1] * d[1], dev);
    p->minus_inf = upload(std::vector<float>{-std::numeric_limits<float>::infinity()}, dev);
    Tensor mask = zeros({d[1] * d[1]}, TensorOptions{DType::Bool, Device::cpu()});
    bool* m = mask.data_ptr<bool>();
    for (int64_t i = 0; i < d[1]; ++i)
      for (int64_t j = 0; j < d[1]; ++j) m[i * d[1] + j] = !p->causal || j <= i;
    p->mask = mask.to(dev);
    return p;
  };
  f->expected = [](const AttentionProblem& p) {
    const auto q = to_double(p.host_q), k = to_double(p.host_k), v = to_double(p.host_v);
    std::vector<double> out(q.size()), lse(static_cast<size_t>(p.s.B * p.s.Tq));
    cpu::attention_forward(DType::Float64, p.s, q.data(), k.data(), v.data(), p.scale, p.causal, out.data(), lse.data());
    return out;  // only the output: the materialized versions keep no log-sum-exp
  };
  f->result = [](const AttentionProblem& p) { return download(p.out); };
  f->add(CPU, "v1", "kernels/cpu/attention: one query row at a time, online softmax in double",
         [](AttentionProblem& p) {
           cpu::attention_forward(DType::Float32, p.s, p.q.f(), p.k.f(), p.v.f(), p.scale, p.causal, p.out.f(),
                                  p.lse.f());
         },
         false, true);
  f->add(CPU, "v2",
         "materialized: S = q·kᵀ by GEMM (OpenBLAS when built), mask, softmax (kernels/cpu/softmax), out = P·v by GEMM",
         [](AttentionProblem& p) {
           const int64_t T = p.s.Tq, D = p.s.D;
           const std::vector<int64_t> shape = {p.s.B, T, T}, strides = {T * T, T, 1}, mask_strides = {0, T, 1},
                                      scalar = {0, 0, 0};
           for (int64_t b = 0; b < p.s.B; ++b)
             cpu::gemm<float>(false, true, T, T, D, float(p.scale), p.q.f() + b * T * D, D, p.k.f() + b * T * D, D, 0.f,
                              p.scores.f() + b * T * T, T);
           if (p.causal)
             cpu::where(DType::Float32, shape, p.scores.f(), p.mask.data_ptr<bool>(), mask_strides.data(),
                        p.scores.f(), strides.data(), p.minus_inf.f(), scalar.data());
           cpu::softmax_forward(false, DType::Float32, shape, 2, p.scores.f(), strides.data(), p.probs.f());
           for (int64_t b = 0; b < p.s.B; ++b)
             cpu::gemm<float>(false, false, T, D, T, 1.f, p.probs.f() + b * T * T, T, p.v.f() + b * T * D, D, 0.f,
                              p.out.f() + b * T * D, D);
         });
#if KILN_HAVE_CUDA
  f->add(CUDA, "v1", "kernels/cuda/attention reference: one block per query row, every sum in double",
         [](AttentionProblem& p) {
           cuda::attention_forward_reference(DType::Float32, p.s, p.q.f(), p.k.f(), p.v.f(), p.scale, p.causal,
                                             p.out.f(), p.lse.f());
         });
  f->add(CUDA, "v2", "flash (FlashAttention-2 style): K/V tiles in shared memory, online softmax, no T×T matrix",
         [](AttentionProblem& p) {
           KILN_CHECK(cuda::flash_attention_supported(p.s), "flash attention does not take this shape");
           cuda::flash_attention_forward(p.s, p.q.f(), p.k.f(), p.v.f(), float(p.scale), p.causal, p.out.f(),
                                         p.lse.f());
         },
         false, true);
  f->add(CUDA, "v3", "materialized: S = q·kᵀ by batched GEMM (cuBLAS), mask, softmax kernel, out = P·v by batched GEMM",
         [](AttentionProblem& p) {
           const int64_t T = p.s.Tq, D = p.s.D, B = p.s.B;
           const std::vector<int64_t> shape = {B, T, T}, strides = {T * T, T, 1}, mask_strides = {0, T, 1},
                                      scalar = {0, 0, 0};
           cuda::gemm_strided_batched<float>(false, true, T, T, D, float(p.scale), p.q.f(), D, T * D, p.k.f(), D, T * D,
                                             0.f, p.scores.f(), T, T * T, B);
           if (p.causal)
             cuda::where(DType::Float32, shape, p.scores.f(), p.mask.data_ptr<bool>(), mask_strides.data(),
                         p.scores.f(), strides.data(), p.minus_inf.f(), scalar.data());
           cuda::softmax_forward(false, DType::Float32, shape, 2, p.scores.f(), strides.data(), p.probs.f());
           cuda::gemm_strided_batched<float>(false, false, T, D, T, 1.f, p.probs.f(), T, T * T, p.v.f(), D, T * D, 0.f,
                                             p.out.f(), D, T * D, B);
         });
#endif
  f->missing_cpu = {"no library attention on the CPU: the reference figure is OpenBLAS sgemm's rate"};
  f->missing_cuda = {"cuDNN fused attention (cudnn frontend SDPA): kiln has no wrapper for it in kernels/cudnn yet"};
  return f;
}

}  // namespace kiln::apps::bench
