// matmul and linear: values against loops written here (torch.matmul's definition), the GEMM kernel
// against the plain loop (OpenBLAS and reference, transposes, leading dims, alpha/beta), gradient checks
// for every 1-D/2-D/batched/broadcast case, and the error messages.
#include <algorithm>
#include <random>

#include "kernels/cpu/gemm.h"
#include "kiln_test.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

// Restores the BLAS switch when a test ends, even a failing one.
struct BlasSwitch {
  bool previous = cpu_blas_enabled();
  explicit BlasSwitch(bool on) { set_cpu_blas_enabled(on); }
  ~BlasSwitch() { set_cpu_blas_enabled(previous); }
};

// torch.matmul by its definition: a 1-D a is a row, a 1-D b a column; batch dims broadcast.
// Returns the values in row-major order of the result (the same order as [batch..., n, m]).
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t n = as[as.size() - 2], k = as.back(), m = bs.back();
  Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  const size_t nb = std::max(ba.size(), bb.size());
  ba.insert(ba.begin(), nb - ba.size(), 1);
  bb.insert(bb.begin(), nb - bb.size(), 1);
  Shape batch(nb);
  int64_t count = 1;
  for (size_t d = 0; d < nb; ++d) count *= batch[d] = std::max(ba[d], bb[d]);
  std::vector<double> out;
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t rest = flat, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
    for (size_t d = nb; d-- > 0;) {
      int64_t idx = rest % batch[d];
      rest /= batch[d];
      ia += (ba[d] == 1 ? 0 : idx) * stride_a;
      ib += (bb[d] == 1 ? 0 : idx) * stride_b;
      stride_a *= ba[d];
      stride_b *= bb[d];
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += av[size_t((ia * n + i) * k + p)] * bv[size_t((ib * k + p) * m + j)];
        out.push_back(acc);
      }
  }
  return out;
}

struct MatmulCase {
  Shape a, b, result;
};

std::vector<MatmulCase> matmul_cases() {
  return {
      {{4}, {4}, {}},                               // dot
      {{4}, {4, 3}, {3}},                           // vector · matrix
      {{2, 4}, {4}, {2}},                           // matrix · vector
      {{2, 4}, {4, 3}, {2, 3}},                     // matrix · matrix
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},            // batched
      {{2, 1, 3, 4}, {3, 4, 2}, {2, 3, 3, 2}},      // broadcast batch dims
      {{3, 4}, {2, 4, 5}, {2, 3, 5}},               // 2-D · batched
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},               // batched · 2-D
      {{4}, {2, 4, 5}, {2, 5}},                     // 1-D · batched
      {{2, 3, 4}, {4}, {2, 3}},                     // batched · 1-D
      {{1, 3, 4}, {2, 1, 4, 2}, {2, 1, 3, 2}},      // both broadcast
  };
}

// C = alpha·op(A)·op(B) + beta·C, written out here, for the kernel tests.
std::vector<double> naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                               const std::vector<double>& a, int64_t lda, const std::vector<double>& b, int64_t ldb,
                               double beta, std::vector<double> c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += a[size_t(ta ? p * lda + i : i * lda + p)] * b[size_t(tb ? j * ldb + p : p * ldb + j)];
      c[size_t(i * ldc + j)] = alpha * acc + beta * c[size_t(i * ldc + j)];
    }
  return c;
}

std::vector<double> random_values(size_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1, 1);
  std::vector<double> v(count);
  for (double& x : v) x = dist(gen);
  return v;
}

}  // namespace

TEST_CASE("matmul: a hand-computed product", "[matmul]") {
  Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6, 7, 8}, {2, 2});
  CHECK_CLOSE(matmul(a, b), {19, 22, 43, 50}, 0, 0);
  CHECK_CLOSE(matmul(f64({1, 2, 3}, {3}), f64({4, 5, 6}, {3})), {32}, 0, 0);
}

TEST_CASE("matmul: every 1-D/2-D/batched/broadcast case matches the definition", "[matmul]") {
  uint64_t seed = 100;
  for (const MatmulCase& c : matmul_cases()) {
    INFO("a " << shape_str(c.a) << " b " << shape_str(c.b));
    Tensor a = random_input(c.a, seed++).detach(), b = random_input(c.b, seed++).detach();
    std::vector<double> expected = naive_matmul(a, b);
    Tensor y = matmul(a, b);
    CHECK(y.shape() == c.result);
    CHECK_CLOSE(y, expected, 1e-12, 1e-12);
    for (bool blas : {true, false}) {
      BlasSwitch use(blas);
      Tensor y32 = matmul(a.to(DType::Float32), b.to(DType::Float32));
      CHECK(y32.dtype() == DType::Float32);
      CHECK_CLOSE(y32, expected, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("matmul: strided, transposed and expanded operands", "[matmul]") {
  Tensor base_a = random_input({5, 6}, 1).detach(), base_b = random_input({7, 5}, 2).detach();
  Tensor at = base_a.t();                        // [6, 5], read transposed without a copy
  Tensor bt = base_b.t();                        // [5, 7]
  CHECK_CLOSE(matmul(at, bt), naive_matmul(at, bt), 1e-12, 1e-12);
  Tensor a_step = base_a.slice(1, 0, 6, 2);      // [5, 3], column stride 2: copied first
  Tensor b_rows = random_input({3, 4}, 3).detach();
  CHECK_CLOSE(matmul(a_step, b_rows), naive_matmul(a_step, b_rows), 1e-12, 1e-12);
  Tensor a_narrow = base_a.narrow(1, 1, 4);      // [5, 4], row stride 6 > 4 columns (a leading dim)
  Tensor b4 = random_input({4, 2}, 4).detach();
  CHECK_CLOSE(matmul(a_narrow, b4), naive_matmul(a_narrow, b4), 1e-12, 1e-12);
  Tensor a_expanded = random_input({1, 3, 4}, 5).detach().expand({4, 3, 4});  // batch stride 0
  Tensor b_batched = random_input({4, 4, 2}, 6).detach();
  CHECK_CLOSE(matmul(a_expanded, b_batched), naive_matmul(a_expanded, b_batched), 1e-12, 1e-12);
  Tensor b_bcast_rows = random_input({1, 2}, 7).detach().expand({4, 2});  // row stride 0: copied first
  CHECK_CLOSE(matmul(a_narrow, b_bcast_rows), naive_matmul(a_narrow, b_bcast_rows), 1e-12, 1e-12);
  Tensor a_perm = random_input({4, 2, 3}, 8).detach().permute({1, 2, 0});  // [2, 3, 4] non-contiguous batch
  Tensor b_perm = random_input({2, 5, 4}, 9).detach().transpose(1, 2);    // [2, 4, 5] transposed matrices
  CHECK_CLOSE(matmul(a_perm, b_perm), naive_matmul(a_perm, b_perm), 1e-12, 1e-12);
}

TEST_CASE("matmul: empty operands give empty or zero results", "[matmul]") {
  CHECK(matmul(zeros({0, 4}, {.dtype = DType::Float64}), zeros({4, 3}, {.dtype = DType::Float64})).shape() ==
        Shape{0, 3});
  Tensor y = matmul(zeros({2, 0}), zeros({0, 3}));
  CHECK(y.shape() == Shape{2, 3});
  CHECK_CLOSE(y, std::vector<double>(6, 0.0), 0, 0);
}

TEST_CASE("gemm kernel: OpenBLAS and the plain loop agree with the definition", "[matmul]") {
  const int64_t m = 13, n = 11, k = 9, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("trans_a " << ta << " trans_b " << tb);
      const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      std::vector<double> a = random_values(size_t((ta ? k : m) * lda), 1);
      std::vector<double> b = random_values(size_t((tb ? n : k) * ldb), 2);
      std::vector<double> c = random_values(size_t(m * ldc), 3);
      for (double beta : {0.0, -2.0}) {
        INFO("beta " << beta);
        std::vector<double> expected = naive_gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, beta, c, ldc);
        std::vector<double> ref = c;
        cpu::gemm_reference<double>(ta, tb, m, n, k, 0.5, a.data(), lda, b.data(), ldb, beta, ref.data(), ldc);
        std::vector<double> fast = c;
        {
          BlasSwitch use(true);
          cpu::gemm<double>(ta, tb, m, n, k, 0.5, a.data(), lda, b.data(), ldb, beta, fast.data(), ldc);
        }
        std::vector<float> a32(a.begin(), a.end()), b32(b.begin(), b.end()), c32(c.begin(), c.end());
        {
          BlasSwitch use(true);
          cpu::gemm<float>(ta, tb, m, n, k, 0.5f, a32.data(), lda, b32.data(), ldb, float(beta), c32.data(), ldc);
        }
        for (size_t i = 0; i < expected.size(); ++i) {
          CHECK(std::fabs(ref[i] - expected[i]) <= 1e-12);
          CHECK(std::fabs(fast[i] - expected[i]) <= 1e-12);
          CHECK(std::fabs(double(c32[i]) - expected[i]) <= 1e-5);
        }
      }
    }
  // beta = 0 never reads C, like BLAS: NaNs there vanish.
  std::vector<double> a{1, 2}, b{3, 4}, c{std::nan("")};
  cpu::gemm_reference<double>(false, false, 1, 1, 2, 1.0, a.data(), 2, b.data(), 1, 0.0, c.data(), 1);
  CHECK(c[0] == 11);
}

TEST_CASE("matmul: OpenBLAS path matches the plain loop (the reference) in float32", "[matmul]") {
  INFO("OpenBLAS available: " << cpu::blas_available());
  CHECK(cpu_blas_enabled());  // enabled by default
  Tensor a = random_input({3, 37, 29}, 21).detach().to(DType::Float32);
  Tensor b = random_input({41, 29}, 22).detach().to(DType::Float32);
  Tensor reference, fast;
  {
    BlasSwitch plain(false);
    reference = matmul(a, b.t());
    CHECK_FALSE(cpu_blas_enabled());
  }
  {
    BlasSwitch use(true);
    fast = matmul(a, b.t());
  }
  CHECK(fast.shape() == Shape{3, 37, 41});
  CHECK_CLOSE(fast, reference, 1e-5, 1e-5);
  // The plain loop accumulates in double, so it equals the float64 product rounded once.
  CHECK_CLOSE(reference, naive_matmul(a.to(DType::Float64), b.to(DType::Float64).t()), 1e-6, 1e-6);
}

TEST_CASE("matmul: gradient checks for every case", "[matmul][gradcheck]") {
  uint64_t seed = 200;
  for (const MatmulCase& c : matmul_cases()) {
    INFO("a " << shape_str(c.a) << " b " << shape_str(c.b));
    Tensor a = random_input(c.a, seed++), b = random_input(c.b, seed++);
    CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  }
}

TEST_CASE("matmul: gradient checks on transposed, permuted and expanded inputs", "[matmul][gradcheck]") {
  auto fn = [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); };
  CHECK_GRADCHECK(fn, {random_input({4, 3}, 1), random_input({5, 4}, 2)});
  auto batched = [](const std::vector<Tensor>& in) {
    return matmul(in[0].permute({1, 2, 0}), in[1].transpose(-1, -2));
  };
  CHECK_GRADCHECK(batched, {random_input({4, 2, 3}, 3), random_input({2, 5, 4}, 4)});
  auto expanded = [](const std::vector<Tensor>& in) { return matmul(in[0].expand({3, 2, 4}), in[1]); };
  CHECK_GRADCHECK(expanded, {random_input({1, 2, 4}, 5), random_input({3, 4, 2}, 6)});
  auto strided = [](const std::vector<Tensor>& in) { return matmul(in[0].slice(1, 0, 6, 2), in[1]); };
  CHECK_GRADCHECK(strided, {random_input({3, 6}, 7), random_input({3, 2}, 8)});
  // only one input needs a gradient
  Tensor fixed = random_input({4, 3}, 9).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return matmul(in[0], fixed); }, {random_input({2, 4}, 10)});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return matmul(fixed.t(), in[0]); }, {random_input({4, 2}, 11)});
}

TEST_CASE("matmul: errors name the op and the shapes", "[matmul]") {
  Tensor m23 = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK_THROWS_WITH_TEXT(matmul(m23, zeros({4, 5}, {.dtype = DType::Float64})), "cannot be multiplied (3 ≠ 4");
  CHECK_THROWS_WITH_TEXT(matmul(m23, f64({1, 2}, {2})), "[2, 3] and [2] cannot be multiplied");
  CHECK_THROWS_WITH_TEXT(matmul(scalar_tensor(1.0, {.dtype = DType::Float64}), m23), "at least 1 dim");
  CHECK_THROWS_WITH_TEXT(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), "batch dims [2] of a [2, 3, 4] and [3]");
  CHECK_THROWS_WITH_TEXT(matmul(m23, zeros({3, 2})), "dtype mismatch");
  CHECK_THROWS_WITH_TEXT(matmul(arange(4, {.dtype = DType::Int64}), arange(4, {.dtype = DType::Int64})),
                         "float32 or float64");
}

// ---------------------------------------------------------------- linear

TEST_CASE("linear: values match x·Wᵀ + b over all leading dims", "[matmul]") {
  Tensor x = random_input({2, 3, 4}, 31).detach(), w = random_input({5, 4}, 32).detach();
  Tensor b = random_input({5}, 33).detach();
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> expected, expected_no_bias;
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 5; ++o) {
      double acc = 0;
      for (int64_t i = 0; i < 4; ++i) acc += xv[size_t(r * 4 + i)] * wv[size_t(o * 4 + i)];
      expected_no_bias.push_back(acc);
      expected.push_back(acc + bv[size_t(o)]);
    }
  Tensor y = linear(x, w, b);
  CHECK(y.shape() == Shape{2, 3, 5});
  CHECK_CLOSE(y, expected, 1e-12, 1e-12);
  CHECK_CLOSE(linear(x, w), expected_no_bias, 1e-12, 1e-12);
  for (bool blas : {true, false}) {
    BlasSwitch use(blas);
    CHECK_CLOSE(linear(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32)), expected, 1e-5, 1e-5);
  }
  // a transposed weight view and a 1-D input
  Tensor wt = w.t().contiguous().t();  // [5, 4] with strides (1, 5)
  CHECK_CLOSE(linear(x, wt, b), expected, 1e-12, 1e-12);
  Tensor y1 = linear(x[0][0], w, b);
  CHECK(y1.shape() == Shape{5});
  CHECK_CLOSE(y1, std::vector<double>(expected.begin(), expected.begin() + 5), 1e-12, 1e-12);
  // no rows: the bias alone is not broadcast anywhere, the shape is kept
  CHECK(linear(zeros({0, 4}, {.dtype = DType::Float64}), w, b).shape() == Shape{0, 5});
}

TEST_CASE("linear: gradient checks with and without bias, 1-D, 2-D, 3-D and strided inputs",
          "[matmul][gradcheck]") {
  auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto without_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  CHECK_GRADCHECK(with_bias, {random_input({5, 4}, 1), random_input({3, 4}, 2), random_input({3}, 3)});
  CHECK_GRADCHECK(without_bias, {random_input({5, 4}, 4), random_input({3, 4}, 5)});
  CHECK_GRADCHECK(with_bias, {random_input({2, 3, 4}, 6), random_input({3, 4}, 7), random_input({3}, 8)});
  CHECK_GRADCHECK(with_bias, {random_input({4}, 9), random_input({3, 4}, 10), random_input({3}, 11)});
  auto transposed = [](const std::vector<Tensor>& in) { return linear(in[0].transpose(1, 2), in[1].t(), in[2]); };
  CHECK_GRADCHECK(transposed, {random_input({2, 4, 3}, 12), random_input({4, 3}, 13), random_input({3}, 14)});
  // only the bias or only the input needs a gradient
  Tensor x = random_input({3, 4}, 15).detach(), w = random_input({2, 4}, 16).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return linear(x, w, in[0]); }, {random_input({2}, 17)});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return linear(in[0], w); }, {random_input({3, 4}, 18)});
}

TEST_CASE("linear: errors name the op and the shapes", "[matmul]") {
  Tensor x = zeros({2, 4}), w = zeros({3, 4});
  CHECK_THROWS_WITH_TEXT(linear(x, zeros({4})), "weight has 1 dims, expected 2");
  CHECK_THROWS_WITH_TEXT(linear(zeros({2, 5}), w), "input's last dim is 5");
  CHECK_THROWS_WITH_TEXT(linear(x, w, zeros({4})), "bias has shape [4], expected [3]");
  CHECK_THROWS_WITH_TEXT(linear(x, w, zeros({3}, {.dtype = DType::Float64})), "dtype mismatch");
  CHECK_THROWS_WITH_TEXT(linear(scalar_tensor(1.0), w), "at least 1 dim");
}
