// CUDA conv2d and conv_transpose2d against the CPU, forward and backward (input, weight, bias), float32
// (TF32 off) and float64, across stride/padding/dilation/groups/output_padding, through cuDNN and through
// kiln's own im2col + GEMM path (cuDNN switched off) with both float32 GEMMs, in deterministic mode and not;
// plus the bitwise repeatability of deterministic mode.
#include <algorithm>
#include <sstream>

#include "core/cuda_context.h"
#include "cuda/conformance.h"
#include "ops/conv_case.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/sgemm.h"
#include "kernels/cudnn/cudnn_conv.h"

using namespace kiln;
using kiln::test::ConvCase;
using kiln::test::describe;
using kiln::test::random_input;
using kiln::test::Tolerance;

#if KILN_HAVE_CUDA  // (every test below needs the CUDA switches; a CPU-only build only reports the skips)
namespace {

// How a test runs the CUDA convolutions; restores every switch when it ends.
struct ConvSettings {
  bool tf32 = allow_tf32(), det = deterministic();
  bool cudnn = cuda::cudnn_enabled();
  cuda::GemmBackend backend = cuda::cuda_gemm_backend();
  ConvSettings(bool use_cudnn, cuda::GemmBackend b, bool deterministic_mode) {
    cuda::set_cudnn_enabled(use_cudnn);
    cuda::set_cuda_gemm_backend(b);
    set_deterministic(deterministic_mode);
    set_allow_tf32(false);
  }
  ~ConvSettings() {
    cuda::set_cudnn_enabled(cudnn);
    cuda::set_cuda_gemm_backend(backend);
    set_deterministic(det);
    set_allow_tf32(tf32);
  }
};

struct Mode {
  bool cudnn;
  bool kiln_gemm;
  bool deterministic;
};

// cuDNN (deterministic or not); the fallback with cuBLAS and with kiln's SGEMM.
std::vector<Mode> modes() {
  return {{true, false, false}, {true, false, true}, {false, false, false}, {false, true, true}};
}

std::string describe(const Mode& m) {
  return std::string(m.cudnn ? "cuDNN" : "fallback") + (m.kiln_gemm ? " + kiln SGEMM" : "") +
         (m.deterministic ? ", deterministic" : "");
}

Tensor leaf(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor t = random_input(shape, seed).detach();
  if (dtype == DType::Float32) t = t.to(DType::Float32);
  t.requires_grad_(true);
  return t;
}

// float32 sums of `length` O(1) products drift by ~1e-7·length (see test_cuda_matmul.cpp); the weight
// gradient sums over batch·out_h·out_w positions, the input gradient over C_out/groups·kH·kW taps.
Tolerance tolerance(DType dtype, int64_t sum_length) {
  Tolerance t = test::tolerance_for(dtype);
  if (dtype == DType::Float32) t.atol = std::max(t.atol, 3e-7 * double(sum_length));
  return t;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

std::vector<ConvCase> conv_cases() {
  return {
      {2, 3, 7, 9, 4, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {1, 4, 8, 8, 6, 3, 2, {2, 1}, {1, 0}, {1, 2}, 2, true},
      {3, 6, 5, 7, 6, 1, 1, {1, 1}, {0, 0}, {1, 1}, 3, false},  // 1×1: the column matrix is the image
      {2, 4, 6, 5, 2, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1, true},   // 1×1 strided: im2col after all
      {2, 2, 11, 10, 3, 5, 3, {3, 2}, {2, 1}, {2, 1}, 1, true},
      {1, 8, 6, 6, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 8, true},    // depthwise
      {1, 1, 1, 1, 1, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},    // all sizes 1
      {2, 3, 127, 3, 5, 3, 1, {2, 1}, {1, 0}, {3, 1}, 1, true},  // odd, tall
      {4, 16, 32, 32, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {2, 6, 9, 9, 4, 4, 4, {3, 3}, {2, 2}, {1, 1}, 2, false},
  };
}

std::vector<ConvCase> conv_transpose_cases() {
  // c_in is x's channels; c_out the output's. Weight [c_in, c_out/groups, kH, kW].
  return {
      {2, 4, 5, 6, 6, 3, 3, {2, 2}, {1, 1}, {1, 1}, 2, true, {1, 1}},
      {1, 3, 4, 4, 2, 2, 3, {3, 2}, {0, 1}, {1, 1}, 1, true, {2, 1}},
      {2, 3, 3, 5, 4, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1, false},
      {1, 2, 5, 5, 3, 3, 3, {1, 1}, {1, 1}, {2, 2}, 1, true, {1, 1}},  // output_padding ≥ stride (< dilation)
      {2, 6, 7, 3, 9, 3, 2, {2, 3}, {1, 0}, {2, 1}, 3, true, {1, 2}},
      {1, 1, 1, 1, 1, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {2, 8, 16, 16, 4, 4, 4, {2, 2}, {1, 1}, {1, 1}, 1, true},
  };
}

}  // namespace
#endif

TEST_CASE("CUDA conv2d matches the CPU: cuDNN and the im2col fallback, both dtypes", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  for (const Mode& mode : modes()) {
    if (mode.cudnn && !cuda::cudnn_available()) continue;
    ConvSettings settings(mode.cudnn, mode.kiln_gemm ? cuda::GemmBackend::Kiln : cuda::GemmBackend::Cublas,
                          mode.deterministic);
    for (DType dt : {DType::Float32, DType::Float64}) {
      const std::vector<ConvCase> cases = conv_cases();
      for (size_t i = 0; i < cases.size(); ++i) {
        const ConvCase& c = cases[i];
        INFO(describe(mode) << ", " << dtype_name(dt) << ": " << describe(c));
        const int64_t oh = out_size(c.h, c.kh, c.stride[0], c.padding[0], c.dilation[0]);
        const int64_t ow = out_size(c.w, c.kw, c.stride[1], c.padding[1], c.dilation[1]);
        const int64_t longest =
            std::max({c.n * oh * ow, c.c_in / c.groups * c.kh * c.kw, c.c_out / c.groups * c.kh * c.kw});
        Tensor x = leaf({c.n, c.c_in, c.h, c.w}, 100 + i, dt);
        Tensor w = leaf({c.c_out, c.c_in / c.groups, c.kh, c.kw}, 200 + i, dt);
        Tensor b = c.bias ? leaf({c.c_out}, 300 + i, dt) : Tensor();
        CHECK_CUDA_MATCHES_CPU(
            [c](const std::vector<Tensor>& v) {
              return std::vector<Tensor>{conv2d(v[0], v[1], v[2], c.stride, c.padding, c.dilation, c.groups)};
            },
            (std::vector<Tensor>{x, w, b}), tolerance(dt, longest));
      }
    }
  }
#endif
}

TEST_CASE("CUDA conv_transpose2d matches the CPU: cuDNN and the im2col fallback, both dtypes", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  for (const Mode& mode : modes()) {
    if (mode.cudnn && !cuda::cudnn_available()) continue;
    ConvSettings settings(mode.cudnn, mode.kiln_gemm ? cuda::GemmBackend::Kiln : cuda::GemmBackend::Cublas,
                          mode.deterministic);
    for (DType dt : {DType::Float32, DType::Float64}) {
      const std::vector<ConvCase> cases = conv_transpose_cases();
      for (size_t i = 0; i < cases.size(); ++i) {
        const ConvCase& c = cases[i];
        INFO(describe(mode) << ", " << dtype_name(dt) << ": " << describe(c));
        const int64_t zh =
            (c.h - 1) * c.stride[0] - 2 * c.padding[0] + c.dilation[0] * (c.kh - 1) + c.output_padding[0] + 1;
        const int64_t zw =
            (c.w - 1) * c.stride[1] - 2 * c.padding[1] + c.dilation[1] * (c.kw - 1) + c.output_padding[1] + 1;
        const int64_t longest = std::max(
            {c.n * c.h * c.w, c.n * zh * zw, c.c_in / c.groups * c.kh * c.kw, c.c_out / c.groups * c.kh * c.kw});
        Tensor x = leaf({c.n, c.c_in, c.h, c.w}, 400 + i, dt);
        Tensor w = leaf({c.c_in, c.c_out / c.groups, c.kh, c.kw}, 500 + i, dt);
        Tensor b = c.bias ? leaf({c.c_out}, 600 + i, dt) : Tensor();
        CHECK_CUDA_MATCHES_CPU(
            [c](const std::vector<Tensor>& v) {
              return std::vector<Tensor>{
                  conv_transpose2d(v[0], v[1], v[2], c.stride, c.padding, c.output_padding, c.groups, c.dilation)};
            },
            (std::vector<Tensor>{x, w, b}), tolerance(dt, longest));
      }
    }
  }
#endif
}

TEST_CASE("CUDA convolutions of unbatched and non-contiguous inputs match the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  for (bool use_cudnn : {true, false}) {
    if (use_cudnn && !cuda::cudnn_available()) continue;
    ConvSettings settings(use_cudnn, cuda::GemmBackend::Cublas, false);
    for (DType dt : {DType::Float32, DType::Float64}) {
      INFO((use_cudnn ? "cuDNN, " : "fallback, ") << dtype_name(dt));
      const Tolerance tol = tolerance(dt, 100);
      // a 3-D [C, H, W] input
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) {
            return std::vector<Tensor>{conv2d(v[0], v[1], v[2], {1, 2}, {1, 1})};
          },
          (std::vector<Tensor>{leaf({3, 6, 7}, 1, dt), leaf({4, 3, 3, 3}, 2, dt), leaf({4}, 3, dt)}), tol);
      // an NHWC leaf viewed as NCHW, and a transposed weight view
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) {
            return std::vector<Tensor>{
                conv2d(permute(v[0], {0, 3, 1, 2}), transpose(v[1], 2, 3), v[2], {1, 1}, {1, 0})};
          },
          (std::vector<Tensor>{leaf({2, 5, 6, 3}, 4, dt), leaf({4, 3, 2, 3}, 5, dt), leaf({4}, 6, dt)}), tol);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) {
            return std::vector<Tensor>{
                conv_transpose2d(permute(v[0], {0, 3, 1, 2}), v[1], v[2], {2, 2}, {1, 1}, {1, 0})};
          },
          (std::vector<Tensor>{leaf({2, 4, 5, 3}, 7, dt), leaf({3, 2, 3, 3}, 8, dt), leaf({2}, 9, dt)}), tol);
    }
  }
#endif
}

TEST_CASE("CUDA convolutions in deterministic mode repeat bit for bit", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  for (bool use_cudnn : {true, false}) {
    if (use_cudnn && !cuda::cudnn_available()) continue;
    ConvSettings settings(use_cudnn, cuda::GemmBackend::Cublas, true);
    INFO((use_cudnn ? "cuDNN" : "fallback"));
    Tensor x0 = leaf({4, 8, 16, 16}, 1, DType::Float32).detach().to(Device::cuda());
    Tensor w0 = leaf({16, 4, 3, 3}, 2, DType::Float32).detach().to(Device::cuda());
    Tensor b0 = leaf({16}, 3, DType::Float32).detach().to(Device::cuda());
    std::vector<std::vector<double>> runs[2];
    for (auto& run : runs) {
      Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
      x.requires_grad_(true);
      w.requires_grad_(true);
      b.requires_grad_(true);
      Tensor y = conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, 2);
      Tensor z = conv_transpose2d(y, w, Tensor(), {2, 2}, {1, 1}, {1, 1}, 2);  // w as [C_in 16, C_out/2 = 4, 3, 3]
      sum(mul(z, z)).backward();
      run = {y.to_vector<double>(), z.to_vector<double>(), x.grad().to_vector<double>(), w.grad().to_vector<double>(),
             b.grad().to_vector<double>()};
    }
    for (size_t k = 0; k < runs[0].size(); ++k) {
      INFO("tensor " << k);
      CHECK(runs[0][k] == runs[1][k]);
    }
  }
#endif
}

TEST_CASE("CUDA convolutions run on cuDNN where kiln is built with it", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  if (!cuda::cudnn_available()) {
    WARN("kiln was built without cuDNN: nothing to check");
    return;
  }
  // An ordinary case every cuDNN handles: forward, backward data and backward filter must all run on
  // cuDNN (not fall back) in both dtypes, with exact fp32 and in deterministic mode.
  for (bool det : {false, true})
    for (DType dt : {DType::Float32, DType::Float64}) {
      INFO(dtype_name(dt) << (det ? ", deterministic" : ""));
      ConvSettings settings(true, cuda::GemmBackend::Cublas, det);
      Tensor x = leaf({2, 4, 9, 9}, 1, dt).detach().to(Device::cuda());
      Tensor w = leaf({8, 4, 3, 3}, 2, dt).detach().to(Device::cuda());
      x.requires_grad_(true);
      w.requires_grad_(true);
      const int64_t before = cuda::cudnn_conv_passes_run();
      Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
      CHECK(cuda::cudnn_conv_passes_run() == before + 1);
      sum(mul(y, y)).backward();
      CHECK(cuda::cudnn_conv_passes_run() == before + 3);
    }
#endif
}
