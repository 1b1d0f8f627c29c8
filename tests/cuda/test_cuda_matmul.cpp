// CUDA matrix products against the CPU: matmul (1-D, 2-D, batched, broadcast, transposed and sliced
// operands, empty products) and linear, forward and backward, float32 (TF32 off) and float64, with both
// float32 GEMMs (cuBLAS and kiln's SGEMM); and the raw GEMM entry points (alpha/beta, leading dims,
// transposes, stride-0 batches, grids beyond 65535 tiles) against the CPU reference loop.
#include <algorithm>
#include <cmath>

#include "core/cuda_context.h"
#include "core/random.h"
#include "cuda/conformance.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/sgemm.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::Tolerance;

namespace {

// Sets the float32 GEMM and TF32 (off) for one test and restores both afterwards.
struct GemmSettings {
  bool tf32 = allow_tf32();
#if KILN_HAVE_CUDA
  cuda::GemmBackend backend = cuda::cuda_gemm_backend();
  explicit GemmSettings(cuda::GemmBackend b) {
    cuda::set_cuda_gemm_backend(b);
    set_allow_tf32(false);
  }
  ~GemmSettings() {
    cuda::set_cuda_gemm_backend(backend);
    set_allow_tf32(tf32);
  }
#endif
};

[[maybe_unused]] const char* backend_name(cuda::GemmBackend b) {
  return b == cuda::GemmBackend::Kiln ? "kiln SGEMM" : "cuBLAS";
}

// A random leaf of `dtype` with requires_grad.
Tensor leaf(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor t = random_input(shape, seed).detach();
  if (dtype == DType::Float32) t = t.to(DType::Float32);
  t.requires_grad_(true);
  return t;
}

// float32 sums of `length` products of O(1) values in [-2, 2) (and N(0, 1) gradient seeds) carry rounding
// errors that grow with the partial sums, ~1e-7·length in absolute terms (the CPU side may accumulate in
// double, the GPU in float32): the default atol of 1e-5 holds up to length ~50. Longer sums get an atol
// scaled with the length; rtol stays. float64 keeps its default (its error at length 4096 is ~1e-13).
[[maybe_unused]] Tolerance tolerance(DType dtype, int64_t sum_length) {
  Tolerance t = test::tolerance_for(dtype);
  if (dtype == DType::Float32) t.atol = std::max(t.atol, 3e-7 * double(sum_length));
  return t;
}

struct MatmulCase {
  Shape a, b;
  int64_t sum_length;  // the longest sum in forward or backward (k, n·batch, m)
};

}  // namespace

TEST_CASE("CUDA matmul matches the CPU: 1-D, 2-D, batched and broadcast, both GEMMs", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  const std::vector<MatmulCase> cases = {
      {{1}, {1}, 1},
      {{3}, {3}, 3},
      {{127}, {127}, 127},
      {{1025}, {1025}, 1025},
      {{3}, {3, 5}, 5},
      {{7, 127}, {127}, 127},
      {{1, 1}, {1, 1}, 1},
      {{3, 5}, {5, 7}, 7},
      {{64, 64}, {64, 64}, 64},
      {{65, 63}, {63, 129}, 129},
      {{127, 33}, {33, 65}, 127},
      {{1025, 3}, {3, 17}, 1025},
      {{3, 1025}, {1025, 5}, 1025},
      {{5, 3, 4}, {5, 4, 6}, 15},        // plain batch
      {{2, 1, 3, 5}, {4, 5, 7}, 24},     // batch dims broadcast [2, 1] × [4] → [2, 4]
      {{3, 5}, {2, 4, 5, 6}, 24},        // a 2-D a against a batched b
      {{2, 3, 4, 5}, {5, 6}, 24},        // a batched a against a 2-D b
      {{2, 1, 4, 5}, {3, 5, 6}, 24},     // [2, 1] × [3]: not one uniform stride, two batched calls
      {{4}, {2, 3, 4, 5}, 24},           // 1-D a, batched b
      {{2, 3, 4, 5}, {5}, 24},           // batched a, 1-D b
      {{1, 3, 1}, {2, 1, 1, 127}, 127},  // k = 1, broadcast
  };
  for (cuda::GemmBackend backend : {cuda::GemmBackend::Cublas, cuda::GemmBackend::Kiln}) {
    GemmSettings settings(backend);
    for (DType dt : {DType::Float32, DType::Float64})
      for (size_t i = 0; i < cases.size(); ++i) {
        const MatmulCase& c = cases[i];
        INFO(backend_name(backend) << ", " << dtype_name(dt) << ": a " << shape_str(c.a) << " · b " << shape_str(c.b));
        CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0], v[1])}; },
                               (std::vector<Tensor>{leaf(c.a, 10 + i, dt), leaf(c.b, 100 + i, dt)}),
                               tolerance(dt, c.sum_length));
      }
  }
#endif
}

TEST_CASE("CUDA matmul of transposed, sliced and expanded operands matches the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  for (cuda::GemmBackend backend : {cuda::GemmBackend::Cublas, cuda::GemmBackend::Kiln}) {
    GemmSettings settings(backend);
    for (DType dt : {DType::Float32, DType::Float64}) {
      INFO(backend_name(backend) << ", " << dtype_name(dt));
      const Tolerance tol = tolerance(dt, 130);
      // aᵀ·b, a·bᵀ, aᵀ·bᵀ as views (read in place by the GEMM)
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0].t(), v[1])}; },
                             (std::vector<Tensor>{leaf({33, 65}, 1, dt), leaf({33, 127}, 2, dt)}), tol);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0], v[1].t())}; },
                             (std::vector<Tensor>{leaf({65, 33}, 3, dt), leaf({127, 33}, 4, dt)}), tol);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0].t(), v[1].t())}; },
          (std::vector<Tensor>{leaf({7, 3}, 5, dt), leaf({1, 7}, 6, dt)}), tol);
      // batched transposes
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) {
            return std::vector<Tensor>{matmul(transpose(v[0], -1, -2), transpose(v[1], -1, -2))};
          },
          (std::vector<Tensor>{leaf({3, 5, 4}, 7, dt), leaf({3, 6, 5}, 8, dt)}), tol);
      // a column slice (row stride 2·cols: the GEMM reads it with a leading dim) and a batch slice
      // (batch strides that do not form one uniform stride with the next dim: looped batches)
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(slice(v[0], 1, 0, 10, 2), v[1])}; },
          (std::vector<Tensor>{leaf({9, 10}, 9, dt), leaf({5, 4}, 10, dt)}), tol);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(slice(v[0], 1, 0, 6, 2), v[1])}; },
          (std::vector<Tensor>{leaf({2, 6, 4, 5}, 11, dt), leaf({2, 1, 5, 3}, 12, dt)}), tol);
      // every other column: neither row- nor column-major, copied first
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0], slice(v[1], 1, 0, 8, 2))}; },
          (std::vector<Tensor>{leaf({3, 5}, 13, dt), leaf({5, 8}, 14, dt)}), tol);
      // an expanded (stride-0) batch operand
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& v) {
            return std::vector<Tensor>{matmul(expand(v[0], {4, 3, 5}), v[1])};
          },
          (std::vector<Tensor>{leaf({1, 3, 5}, 15, dt), leaf({4, 5, 2}, 16, dt)}), tol);
    }
  }
#endif
}

TEST_CASE("CUDA matmul with an empty dim matches the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : {DType::Float32, DType::Float64}) {
    // k = 0: the result is zeros; n = 0 and batch = 0: empty results
    for (auto [a, b] : std::vector<std::pair<Shape, Shape>>{{{3, 0}, {0, 4}}, {{0, 3}, {3, 4}}, {{0, 2, 3}, {3, 4}}}) {
      INFO(dtype_name(dt) << ": a " << shape_str(a) << " · b " << shape_str(b));
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& v) { return std::vector<Tensor>{matmul(v[0], v[1])}; },
                             (std::vector<Tensor>{leaf(a, 1, dt), leaf(b, 2, dt)}), test::tolerance_for(dt));
    }
  }
}

TEST_CASE("CUDA linear matches the CPU, with and without bias, both GEMMs", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  struct LinearCase {
    Shape x;
    int64_t out;
    bool bias;
    bool weight_transposed;  // the weight is the transpose view of a [in, out] leaf
  };
  const std::vector<LinearCase> cases = {
      {{1}, 1, true, false},          {{5, 7}, 3, true, false},   {{5, 7}, 3, false, true},
      {{2, 4, 127}, 65, true, false}, {{3, 1025}, 5, true, true}, {{129, 3}, 130, false, false},
  };
  for (cuda::GemmBackend backend : {cuda::GemmBackend::Cublas, cuda::GemmBackend::Kiln}) {
    GemmSettings settings(backend);
    for (DType dt : {DType::Float32, DType::Float64})
      for (size_t i = 0; i < cases.size(); ++i) {
        const LinearCase& c = cases[i];
        const int64_t in = c.x.back();
        INFO(backend_name(backend) << ", " << dtype_name(dt) << ": x " << shape_str(c.x) << ", out " << c.out
                                   << ", bias " << c.bias << ", transposed weight " << c.weight_transposed);
        Tensor w = c.weight_transposed ? leaf({in, c.out}, 20 + i, dt) : leaf({c.out, in}, 20 + i, dt);
        Tensor b = c.bias ? leaf({c.out}, 40 + i, dt) : Tensor();
        const bool wt = c.weight_transposed;
        int64_t rows = 1;
        for (size_t d = 0; d + 1 < c.x.size(); ++d) rows *= c.x[d];
        CHECK_CUDA_MATCHES_CPU(
            [wt](const std::vector<Tensor>& v) {
              return std::vector<Tensor>{linear(v[0], wt ? v[1].t() : v[1], v[2])};
            },
            (std::vector<Tensor>{leaf(c.x, 30 + i, dt), w, b}), tolerance(dt, std::max({in, c.out, rows})));
      }
  }
#endif
}

TEST_CASE("CUDA GEMM entry points match the CPU reference: alpha, beta, leading dims, transposes, batches", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  struct GemmCase {
    int64_t m, n, k, batch;
    bool broadcast_b;  // stride_b = 0
  };
  const std::vector<GemmCase> cases = {
      {1, 1, 1, 1, false},     {3, 5, 7, 1, false},     {64, 64, 16, 1, false}, {65, 63, 17, 2, false},
      {127, 129, 33, 3, true}, {1025, 3, 65, 1, false}, {3, 5, 1025, 2, true},  {1, 130, 2, 70000, true},
  };
  Generator gen(7);
  for (cuda::GemmBackend backend : {cuda::GemmBackend::Cublas, cuda::GemmBackend::Kiln}) {
    GemmSettings settings(backend);
    for (const GemmCase& c : cases)
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        INFO(backend_name(backend) << ": m " << c.m << " n " << c.n << " k " << c.k << " batch " << c.batch
                                   << " trans_a " << ta << " trans_b " << tb << " stride_b 0 " << c.broadcast_b);
        // stored shapes with padded leading dims (+3 columns)
        const int64_t a_rows = ta ? c.k : c.m, a_cols = ta ? c.m : c.k, lda = a_cols + 3;
        const int64_t b_rows = tb ? c.n : c.k, b_cols = tb ? c.k : c.n, ldb = b_cols + 3;
        const int64_t ldc = c.n + 3;
        const int64_t sa = a_rows * lda, sb = c.broadcast_b ? 0 : b_rows * ldb, sc = c.m * ldc;
        const int64_t b_batches = c.broadcast_b ? 1 : c.batch;
        Tensor a = uniform({c.batch * sa}, -2, 2, {.dtype = DType::Float32}, gen);
        Tensor b = uniform({b_batches * b_rows * ldb}, -2, 2, {.dtype = DType::Float32}, gen);
        Tensor c0 = uniform({c.batch * sc}, -2, 2, {.dtype = DType::Float32}, gen);
        for (float beta : {0.0f, -1.5f}) {
          Tensor expected = c0.clone();
          for (int64_t z = 0; z < c.batch; ++z)
            cpu::gemm_reference<float>(ta, tb, c.m, c.n, c.k, 0.5f, a.data_ptr<float>() + z * sa, lda,
                                       b.data_ptr<float>() + z * sb, ldb, beta, expected.data_ptr<float>() + z * sc,
                                       ldc);
          Tensor ga = a.to(Device::cuda()), gb = b.to(Device::cuda()), gc = c0.to(Device::cuda());
          cuda::gemm_strided_batched<float>(ta, tb, c.m, c.n, c.k, 0.5f, ga.data_ptr<float>(), lda, sa,
                                            gb.data_ptr<float>(), ldb, sb, beta, gc.data_ptr<float>(), ldc, sc,
                                            c.batch);
          INFO("beta " << beta);
          // (the padding columns of C are untouched: compared too)
          CHECK_CLOSE(gc.cpu(), expected, 3e-7 * double(c.k) + 1e-5, 1e-4);
        }
      }
  }
  // float64 through the same entry (always cuBLAS), and the plain gemm with k = 0 (C = beta·C)
  Tensor a = uniform({6 * 9}, -2, 2, {.dtype = DType::Float64}, gen);
  Tensor b = uniform({9 * 4}, -2, 2, {.dtype = DType::Float64}, gen);
  Tensor c0 = uniform({6 * 4}, -2, 2, {.dtype = DType::Float64}, gen);
  Tensor expected = c0.clone();
  cpu::gemm_reference<double>(false, false, 6, 4, 9, 1.0, a.data_ptr<double>(), 9, b.data_ptr<double>(), 4, 2.0,
                              expected.data_ptr<double>(), 4);
  Tensor gc = c0.to(Device::cuda());
  cuda::gemm<double>(false, false, 6, 4, 9, 1.0, a.to(Device::cuda()).data_ptr<double>(), 9,
                     b.to(Device::cuda()).data_ptr<double>(), 4, 2.0, gc.data_ptr<double>(), 4);
  CHECK_CLOSE(gc.cpu(), expected, 1e-12, 1e-10);
  Tensor gz = c0.to(Device::cuda());
  cuda::gemm<double>(false, false, 6, 4, 0, 1.0, nullptr, 1, nullptr, 4, 0.5, gz.data_ptr<double>(), 4);
  CHECK_CLOSE(gz.cpu(), mul(c0, 0.5), 0, 0);
  cuda::gemm<double>(false, false, 6, 4, 0, 1.0, nullptr, 1, nullptr, 4, 0.0, gz.data_ptr<double>(), 4);
  CHECK_CLOSE(gz.cpu(), std::vector<double>(24, 0.0), 0, 0);
#endif
}

TEST_CASE("kiln SGEMM covers grids beyond 65535 row tiles", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
#if KILN_HAVE_CUDA
  // m = 64·65535 + 3 rows: the y grid is capped and the blocks loop over the remaining tiles.
  const int64_t m = 64 * 65535 + 3, n = 2, k = 1;
  Generator gen(11);
  Tensor a = uniform({m, k}, -2, 2, {}, gen), b = uniform({k, n}, -2, 2, {}, gen);
  Tensor expected = empty({m, n});
  cpu::gemm_reference<float>(false, false, m, n, k, 1.0f, a.data_ptr<float>(), k, b.data_ptr<float>(), n, 0.0f,
                             expected.data_ptr<float>(), n);
  Tensor ga = a.to(Device::cuda()), gb = b.to(Device::cuda());
  Tensor gc = full({m, n}, std::nan(""), {.device = Device::cuda()});  // beta = 0 must not read C
  cuda::sgemm_kiln_strided_batched(false, false, m, n, k, 1.0f, ga.data_ptr<float>(), k, 0, gb.data_ptr<float>(), n, 0,
                                   0.0f, gc.data_ptr<float>(), n, 0, 1);
  CHECK_CLOSE(gc.cpu(), expected, 0, 0);
#endif
}
