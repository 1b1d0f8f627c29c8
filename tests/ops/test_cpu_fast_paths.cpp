// The CPU fast paths of softmax, the losses, layer norm and batch norm (kernels/cpu/*_fast.cpp)
// against the plain reference loops they replace, at many shapes (one element, odd and wide rows,
// sizes above the OpenMP threshold), extreme values, float32 and float64, forward and backward; and
// that the public kernels really dispatch to them (fast_path_calls moves).
// Stated tolerances, |fast − reference| ≤ atol + rtol·|reference|:
//   e^x (exp_f32):            rtol 4e-7 on [−87.3, 88.3], exactly 0 below −87.34 and at −∞.
//   float32 softmax:          rtol 5e-6, atol 1e-30;  log_softmax atol 2e-6, rtol 1e-6.
//   float32 softmax backward: atol 2e-6, rtol 1e-5;  log_softmax backward atol 2e-5, rtol 1e-5.
//   float32 cross-entropy:    loss and lse atol 1e-5, rtol 1e-6;  dlogits atol 1e-7, rtol 1e-5.
//   float32 layer/batch norm: outputs atol 2e-5, rtol 1e-5;  parameter gradients atol 1e-4, rtol 1e-5.
//   pointwise losses (BCE with logits, MSE, Gaussian KL): bit-identical, float32 and float64.
//   float64: softmax and cross-entropy are bit-identical to the reference; norms within 1e-12.
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <random>

#include "kernels/cpu/loss.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/rowwise_fast.h"
#include "kernels/cpu/softmax.h"
#include "kiln_test.h"

using namespace kiln;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

template <class T>
DType dtype_of() {
  return std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
}

// n values ~ N(offset, scale²), reproducible.
template <class T>
std::vector<T> normal(size_t n, uint64_t seed, double scale = 1.0, double offset = 0.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(offset, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = T(dist(gen));
  return v;
}

// Whether |a − e| ≤ atol + rtol·|e| everywhere (NaN where the reference is NaN); INFO names the worst.
template <class T>
bool close(const std::vector<T>& actual, const std::vector<T>& expected, double atol, double rtol) {
  REQUIRE(actual.size() == expected.size());
  double worst = 0;
  size_t at = 0;
  bool ok = true;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = double(actual[i]), e = double(expected[i]);
    if (std::isnan(e) || std::isnan(a)) {
      if (std::isnan(e) != std::isnan(a)) ok = false, at = i;
      continue;
    }
    if (a == e) continue;  // also equal infinities
    const double excess = std::fabs(a - e) - (atol + rtol * std::fabs(e));
    if (excess > 0 && (ok || excess > worst)) ok = false, worst = excess, at = i;
  }
  std::ostringstream message;
  if (!ok)
    message << "worst mismatch at " << at << ": " << std::setprecision(10) << double(actual[at]) << " vs "
            << double(expected[at]) << " (excess " << worst << ")";
  INFO(message.str());
  CHECK(ok);
  return ok;
}

template <class T>
bool identical(const std::vector<T>& actual, const std::vector<T>& expected) {
  return close(actual, expected, 0.0, 0.0);
}

struct Tol {
  double atol, rtol;
};

// Softmax and log-softmax of `rows` rows of n values, forward and backward, fast vs reference.
template <class T>
void check_softmax(int64_t rows, int64_t n, const std::vector<T>& x, Tol fwd, Tol log_fwd, Tol bwd, Tol log_bwd) {
  const std::vector<int64_t> shape = {rows, n}, strides = {n, 1};
  const DType dtype = dtype_of<T>();
  const size_t size = size_t(rows * n);
  const std::vector<T> dy = normal<T>(size, 77);
  for (bool log : {false, true}) {
    INFO((log ? "log_softmax" : "softmax") << " rows " << rows << " n " << n);
    std::vector<T> y_ref(size), y_fast(size), dx_ref(size), dx_fast(size);
    cpu::softmax_forward_reference(log, dtype, shape, 1, x.data(), strides.data(), y_ref.data());
    cpu::softmax_forward_rows(log, dtype, rows, n, x.data(), y_fast.data());
    const Tol f = log ? log_fwd : fwd, b = log ? log_bwd : bwd;
    close(y_fast, y_ref, f.atol, f.rtol);
    // backward from the reference's y, so only the backward's own error is measured
    cpu::softmax_backward_reference(log, dtype, shape, 1, y_ref.data(), strides.data(), dy.data(), strides.data(),
                                    dx_ref.data());
    cpu::softmax_backward_rows(log, dtype, rows, n, y_ref.data(), dy.data(), dx_fast.data());
    close(dx_fast, dx_ref, b.atol, b.rtol);
  }
}

template <class T>
void softmax_cases(Tol fwd, Tol log_fwd, Tol bwd, Tol log_bwd) {
  // shapes: one element, odd widths, SIMD-width edges, the 1024 sum block's edges, wide rows, and
  // sizes over the OpenMP threshold (64·1025, 8·5000)
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},   {1, 3},    {5, 7},   {3, 8},    {4, 9},
                                                           {2, 31},  {7, 100},  {2, 1023}, {3, 1024}, {2, 1025},
                                                           {64, 1025}, {8, 5000}, {300, 114}};
  uint64_t seed = 1;
  for (auto [rows, n] : shapes) {
    check_softmax<T>(rows, n, normal<T>(size_t(rows * n), seed++, 3.0), fwd, log_fwd, bwd, log_bwd);
    check_softmax<T>(rows, n, normal<T>(size_t(rows * n), seed++, 30.0, 1e4), fwd, log_fwd, bwd, log_bwd);  // large
    check_softmax<T>(rows, n, normal<T>(size_t(rows * n), seed++, 1e-30), fwd, log_fwd, bwd, log_bwd);      // tiny
  }
  // masked positions (−∞), a row all −∞ (NaN, as PyTorch), a row with +∞ (NaN), a NaN row
  const int64_t n = 37;
  std::vector<T> x = normal<T>(size_t(6 * n), 99, 2.0);
  for (int64_t j = 0; j < n; j += 3) x[size_t(j)] = T(-kInf);
  for (int64_t j = 0; j < n; ++j) x[size_t(n + j)] = T(-kInf);
  x[size_t(2 * n + 5)] = T(kInf);
  x[size_t(3 * n + 7)] = T(std::nan(""));
  x[size_t(4 * n + 1)] = T(-1e30);
  check_softmax<T>(6, n, x, fwd, log_fwd, bwd, log_bwd);
  std::vector<T> y(x.size());
  cpu::softmax_forward_rows(false, dtype_of<T>(), 6, n, x.data(), y.data());
  CHECK(y[0] == T(0));                 // e^{−∞} is exactly 0 ...
  CHECK(std::isnan(double(y[size_t(n)])));  // ... and a row of −∞ is NaN
}

}  // namespace

TEST_CASE("exp_f32: relative error below 4e-7, exact 0 for -inf and underflow, NaN kept", "[cpu_fast]") {
  std::vector<float> x;
  for (double v = -87.3; v <= 88.3; v += 1.7e-4) x.push_back(float(v));
  for (float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 88.37f, -87.33f}) x.push_back(v);
  std::vector<float> y(x.size());
  cpu::exp_f32_array(x.data(), y.data(), int64_t(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(double(y[i]) / std::exp(double(x[i])) - 1));
  INFO("worst relative error " << worst);
  CHECK(worst < 4e-7);
  const std::vector<float> special = {-float(kInf), -1000.0f, -87.35f, std::nanf("")};
  std::vector<float> out(special.size());
  cpu::exp_f32_array(special.data(), out.data(), int64_t(special.size()));
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
  CHECK(out[2] == 0.0f);
  CHECK(std::isnan(out[3]));
}

TEST_CASE("softmax fast path: float32 within stated tolerance of the reference", "[cpu_fast][softmax]") {
  softmax_cases<float>({1e-30, 5e-6}, {2e-6, 1e-6}, {2e-6, 1e-5}, {2e-5, 1e-5});
}

TEST_CASE("softmax fast path: float64 bit-identical to the reference", "[cpu_fast][softmax]") {
  softmax_cases<double>({0, 0}, {0, 0}, {0, 0}, {0, 0});
}

TEST_CASE("softmax dispatch: contiguous rows take the fast path, other layouts the reference", "[cpu_fast][softmax]") {
  Tensor x = test::random_input({4, 3, 50}, 5).detach().to(DType::Float32);
  const int64_t before = cpu::fast_path_calls.load();
  Tensor y = softmax(x, -1);
  CHECK(cpu::fast_path_calls.load() == before + 1);
  std::vector<float> xs = x.to_vector<float>(), expected(xs.size());
  const std::vector<int64_t> shape = {4, 3, 50}, strides = {150, 50, 1};
  cpu::softmax_forward_reference(false, DType::Float32, shape, 2, xs.data(), strides.data(), expected.data());
  close(y.to_vector<float>(), expected, 1e-30, 5e-6);
  // along dim 1 the lines are strided: the reference runs, the counter stays
  const int64_t after = cpu::fast_path_calls.load();
  Tensor y1 = log_softmax(x, 1);
  CHECK(cpu::fast_path_calls.load() == after);
  // a [.., n, 1] view whose softmax dim is followed by size-1 dims is still rows
  Tensor z = softmax(x.reshape({12, 50, 1}), 1);
  CHECK(cpu::fast_path_calls.load() == after + 1);
  close(z.to_vector<float>(), expected, 1e-30, 5e-6);
}

namespace {

template <class T>
void check_cross_entropy(int64_t N, int64_t C, const std::vector<T>& x, double smoothing, Tol loss_tol, Tol grad_tol) {
  INFO("cross_entropy N " << N << " C " << C << " smoothing " << smoothing);
  const DType dtype = dtype_of<T>();
  const std::vector<int64_t> shape = {N, C}, strides = {C, 1}, row_strides = {1, 0};
  const int64_t ignore = -100;
  std::vector<int64_t> target(static_cast<size_t>(N));
  std::mt19937_64 gen(uint64_t(N * 1000 + C));
  for (int64_t p = 0; p < N; ++p) target[size_t(p)] = p % 5 == 3 ? ignore : int64_t(gen() % uint64_t(C));
  std::vector<T> loss_ref(static_cast<size_t>(N)), lse_ref(static_cast<size_t>(N)), loss_fast(static_cast<size_t>(N)), lse_fast(static_cast<size_t>(N));
  const int64_t counted_ref =
      cpu::cross_entropy_forward_reference(dtype, shape, x.data(), strides.data(), target.data(), row_strides.data(),
                                           ignore, smoothing, loss_ref.data(), row_strides.data(), lse_ref.data(),
                                           row_strides.data());
  const int64_t counted_fast = cpu::cross_entropy_forward_rows(dtype, N, C, x.data(), target.data(), 1, ignore,
                                                               smoothing, loss_fast.data(), 1, lse_fast.data(), 1);
  CHECK(counted_fast == counted_ref);
  close(loss_fast, loss_ref, loss_tol.atol, loss_tol.rtol);
  close(lse_fast, lse_ref, loss_tol.atol, loss_tol.rtol);
  const std::vector<T> dy = normal<T>(size_t(N), 5);
  std::vector<T> d_ref(x.size()), d_fast(x.size());
  cpu::cross_entropy_backward_reference(dtype, shape, x.data(), strides.data(), target.data(), row_strides.data(),
                                        ignore, smoothing, lse_ref.data(), row_strides.data(), dy.data(),
                                        row_strides.data(), 0.25, d_ref.data());
  cpu::cross_entropy_backward_rows(dtype, N, C, x.data(), target.data(), 1, ignore, smoothing, lse_ref.data(), 1,
                                   dy.data(), 1, 0.25, d_fast.data());
  close(d_fast, d_ref, grad_tol.atol, grad_tol.rtol);
}

template <class T>
void cross_entropy_cases(Tol loss_tol, Tol grad_tol) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},  {3, 2},    {5, 7},    {64, 114},
                                                           {400, 114}, {9, 1000}, {2, 1030}};
  uint64_t seed = 11;
  for (auto [N, C] : shapes)
    for (double smoothing : {0.0, 0.1}) {
      check_cross_entropy<T>(N, C, normal<T>(size_t(N * C), seed++, 3.0), smoothing, loss_tol, grad_tol);
      check_cross_entropy<T>(N, C, normal<T>(size_t(N * C), seed++, 20.0, 500.0), smoothing, loss_tol, grad_tol);
    }
}

}  // namespace

TEST_CASE("cross_entropy fast path: float32 within stated tolerance, float64 bit-identical", "[cpu_fast][loss]") {
  cross_entropy_cases<float>({1e-5, 1e-6}, {1e-7, 1e-5});
  cross_entropy_cases<double>({0, 0}, {0, 0});
}

TEST_CASE("cross_entropy dispatch: 2-d logits take the fast path, a bad target still throws", "[cpu_fast][loss]") {
  Tensor logits = test::random_input({6, 5}, 3).detach().to(DType::Float32);
  Tensor target = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0}, {6}, {.dtype = DType::Int64});
  const int64_t before = cpu::fast_path_calls.load();
  Tensor loss = cross_entropy(logits, target);
  CHECK(cpu::fast_path_calls.load() == before + 1);
  Tensor bad = from_vector(std::vector<int64_t>{0, 1, 7, 3, 4, 0}, {6}, {.dtype = DType::Int64});
  CHECK_THROWS_WITH(cross_entropy(logits, bad), Catch::Contains("target 7 is out of range for 5 classes"));
}

namespace {

template <class T>
void pointwise_cases() {
  for (int64_t n : {1, 7, 1000, 40000}) {  // 40000: over the OpenMP threshold
    const std::vector<int64_t> shape = {n}, strides = {1}, zero = {0};
    std::vector<T> a = normal<T>(size_t(n), 21, 30.0), b = normal<T>(size_t(n), 22), dy = normal<T>(size_t(n), 23);
    for (auto& t : b) t = T(1) / (T(1) + std::exp(-t));  // a probability, as BCE's target
    for (PointwiseLoss loss : {PointwiseLoss::BceWithLogits, PointwiseLoss::Mse, PointwiseLoss::GaussianKl}) {
      INFO("pointwise loss " << int(loss) << " n " << n);
      std::vector<T> out_r(static_cast<size_t>(n)), out_f(static_cast<size_t>(n));
      cpu::pointwise_loss_forward_reference(loss, dtype_of<T>(), shape, a.data(), strides.data(), b.data(),
                                            strides.data(), out_r.data());
      cpu::pointwise_loss_forward_flat(loss, dtype_of<T>(), n, a.data(), b.data(), out_f.data());
      identical(out_f, out_r);
      for (bool reduced : {false, true}) {
        std::vector<T> da_r(static_cast<size_t>(n)), db_r(static_cast<size_t>(n)), da_f(static_cast<size_t>(n)), db_f(static_cast<size_t>(n));
        cpu::pointwise_loss_backward_reference(loss, dtype_of<T>(), shape, a.data(), strides.data(), b.data(),
                                               strides.data(), dy.data(), reduced ? zero.data() : strides.data(),
                                               0.5, da_r.data(), db_r.data());
        cpu::pointwise_loss_backward_flat(loss, dtype_of<T>(), n, a.data(), b.data(), dy.data(), reduced ? 0 : 1, 0.5,
                                          da_f.data(), db_f.data());
        identical(da_f, da_r);
        identical(db_f, db_r);
      }
    }
  }
}

}  // namespace

TEST_CASE("pointwise losses fast path: bit-identical to the reference, and dispatched", "[cpu_fast][loss]") {
  pointwise_cases<float>();
  pointwise_cases<double>();
  Tensor a = test::random_input({8, 3}, 1).detach().to(DType::Float32);
  Tensor b = sigmoid(test::random_input({8, 3}, 2).detach()).to(DType::Float32);
  const int64_t before = cpu::fast_path_calls.load();
  binary_cross_entropy_with_logits(a, b);
  CHECK(cpu::fast_path_calls.load() == before + 1);
  binary_cross_entropy_with_logits(a.transpose(0, 1), b.transpose(0, 1));  // strided: the reference
  CHECK(cpu::fast_path_calls.load() == before + 1);
}

namespace {

template <class T>
void check_layer_norm(int64_t M, int64_t K, bool affine, double offset, Tol out_tol, Tol param_tol) {
  INFO("layer_norm M " << M << " K " << K << " affine " << affine << " offset " << offset);
  const DType dtype = dtype_of<T>();
  const size_t size = size_t(M * K);
  const std::vector<T> x = normal<T>(size, uint64_t(M * 7 + K), 2.0, offset), dy = normal<T>(size, 3);
  const std::vector<T> w = normal<T>(size_t(K), 4, 0.5, 1.0), b = normal<T>(size_t(K), 6);
  const T* wp = affine ? w.data() : nullptr;
  const T* bp = affine ? b.data() : nullptr;
  std::vector<T> y_r(size), y_f(size), mean_r(static_cast<size_t>(M)), mean_f(static_cast<size_t>(M)), rstd_r(static_cast<size_t>(M)), rstd_f(static_cast<size_t>(M));
  cpu::layer_norm_forward_reference(dtype, M, K, x.data(), wp, bp, 1e-5, y_r.data(), mean_r.data(), rstd_r.data());
  cpu::layer_norm_forward_fast(dtype, M, K, x.data(), wp, bp, 1e-5, y_f.data(), mean_f.data(), rstd_f.data());
  {
    INFO("y");
    close(y_f, y_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("mean");
    close(mean_f, mean_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("rstd");
    close(rstd_f, rstd_r, out_tol.atol, out_tol.rtol);
  }
  std::vector<T> dx_r(size), dx_f(size), dw_r(static_cast<size_t>(K)), dw_f(static_cast<size_t>(K)), db_r(static_cast<size_t>(K)), db_f(static_cast<size_t>(K));
  cpu::layer_norm_backward_reference(dtype, M, K, x.data(), dy.data(), mean_r.data(), rstd_r.data(), wp, dx_r.data(),
                                     affine ? dw_r.data() : nullptr, affine ? db_r.data() : nullptr);
  cpu::layer_norm_backward_fast(dtype, M, K, x.data(), dy.data(), mean_r.data(), rstd_r.data(), wp, dx_f.data(),
                                affine ? dw_f.data() : nullptr, affine ? db_f.data() : nullptr);
  {
    INFO("dx");
    close(dx_f, dx_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("dw");
    close(dw_f, dw_r, param_tol.atol, param_tol.rtol);
  }
  {
    INFO("db");
    close(db_f, db_r, param_tol.atol, param_tol.rtol);
  }
}

template <class T>
void check_batch_norm(int64_t N, int64_t C, int64_t S, bool affine, bool batch_stats, double offset, Tol out_tol,
                      Tol param_tol) {
  INFO("batch_norm N " << N << " C " << C << " S " << S << " affine " << affine << " batch_stats " << batch_stats);
  const DType dtype = dtype_of<T>();
  const size_t size = size_t(N * C * S);
  const std::vector<T> x = normal<T>(size, uint64_t(N * 31 + C * 7 + S), 1.5, offset), dy = normal<T>(size, 8);
  const std::vector<T> w = normal<T>(size_t(C), 4, 0.5, 1.0), b = normal<T>(size_t(C), 6);
  const T* wp = affine ? w.data() : nullptr;
  const T* bp = affine ? b.data() : nullptr;
  std::vector<T> mean_r(static_cast<size_t>(C)), mean_f(static_cast<size_t>(C)), var_r(static_cast<size_t>(C)), var_f(static_cast<size_t>(C));
  cpu::batch_norm_stats_reference(dtype, N, C, S, x.data(), mean_r.data(), var_r.data());
  cpu::batch_norm_stats_fast(dtype, N, C, S, x.data(), mean_f.data(), var_f.data());
  {
    INFO("mean");
    close(mean_f, mean_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("var");
    close(var_f, var_r, out_tol.atol, out_tol.rtol);
  }
  std::vector<T> y_r(size), y_f(size), rstd_r(static_cast<size_t>(C)), rstd_f(static_cast<size_t>(C));
  cpu::batch_norm_forward_reference(dtype, N, C, S, x.data(), mean_r.data(), var_r.data(), 1e-5, wp, bp, y_r.data(),
                                    rstd_r.data());
  cpu::batch_norm_forward_fast(dtype, N, C, S, x.data(), mean_r.data(), var_r.data(), 1e-5, wp, bp, y_f.data(),
                               rstd_f.data());
  {
    INFO("y");
    close(y_f, y_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("rstd");
    close(rstd_f, rstd_r, out_tol.atol, out_tol.rtol);
  }
  std::vector<T> dx_r(size), dx_f(size), dw_r(static_cast<size_t>(C)), dw_f(static_cast<size_t>(C)), db_r(static_cast<size_t>(C)), db_f(static_cast<size_t>(C));
  cpu::batch_norm_backward_reference(dtype, N, C, S, x.data(), dy.data(), mean_r.data(), rstd_r.data(), wp,
                                     batch_stats, dx_r.data(), dw_r.data(), db_r.data());
  cpu::batch_norm_backward_fast(dtype, N, C, S, x.data(), dy.data(), mean_r.data(), rstd_r.data(), wp, batch_stats,
                                dx_f.data(), dw_f.data(), db_f.data());
  {
    INFO("dx");
    close(dx_f, dx_r, out_tol.atol, out_tol.rtol);
  }
  {
    INFO("dw");
    close(dw_f, dw_r, param_tol.atol, param_tol.rtol);
  }
  {
    INFO("db");
    close(db_f, db_r, param_tol.atol, param_tol.rtol);
  }
}

template <class T>
void norm_cases(Tol out_tol, Tol param_tol) {
  for (auto [M, K] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {7, 8}, {100, 384}, {5, 1030}, {130, 300}})
    for (bool affine : {true, false})
      for (double offset : {0.0, 100.0}) check_layer_norm<T>(M, K, affine, offset, out_tol, param_tol);
  for (auto [N, C, S] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 16}, {2, 3, 17}, {4, 16, 49}, {8, 5, 196}, {3, 2, 1500}, {16, 32, 100}})
    for (bool affine : {true, false})
      for (bool batch_stats : {true, false})
        check_batch_norm<T>(N, C, S, affine, batch_stats, affine ? 20.0 : 0.0, out_tol, param_tol);
}

}  // namespace

TEST_CASE("layer_norm and batch_norm fast paths: float32 within stated tolerance of the reference", "[cpu_fast][norm]") {
  norm_cases<float>({2e-5, 1e-5}, {1e-4, 1e-5});
}

TEST_CASE("layer_norm and batch_norm fast paths: float64 within 1e-12 of the reference", "[cpu_fast][norm]") {
  norm_cases<double>({1e-12, 1e-12}, {1e-12, 1e-12});
}

TEST_CASE("norm dispatch: layer_norm and batch_norm on planes of 16 or more take the fast path", "[cpu_fast][norm]") {
  Tensor x = test::random_input({4, 3, 5, 5}, 9).detach().to(DType::Float32);
  int64_t before = cpu::fast_path_calls.load();
  layer_norm(x, {5, 5});
  CHECK(cpu::fast_path_calls.load() == before + 1);
  before = cpu::fast_path_calls.load();
  batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);  // stats + forward
  CHECK(cpu::fast_path_calls.load() == before + 2);
  before = cpu::fast_path_calls.load();
  batch_norm(x.reshape({4, 75}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);  // S = 1: reference
  CHECK(cpu::fast_path_calls.load() == before);
}
