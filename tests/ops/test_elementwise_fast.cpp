// The CPU elementwise fast paths (one flat loop, kernels/cpu/flat_loop.h) against the strided reference
// loops, for every unary and binary op, forward and backward, float32 and float64, on sizes below and above
// the OpenMP chunk size; and the layouts that must fall back to the reference.
#include <random>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/flat_loop.h"
#include "kernels/cpu/reduce.h"
#include "kiln_test.h"

using namespace kiln;
using namespace kiln::cpu;

namespace {

template <class T>
std::vector<T> random_values(int64_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(dist(rng));
  return v;
}

// Equal bit for bit: both paths evaluate the same scalar function of the same inputs.
template <class T>
void check_same(const std::vector<T>& fast, const std::vector<T>& reference) {
  REQUIRE(fast.size() == reference.size());
  size_t differing = 0;
  for (size_t i = 0; i < fast.size(); ++i)
    if (!(fast[i] == reference[i] || (std::isnan(fast[i]) && std::isnan(reference[i])))) ++differing;
  CHECK(differing == 0);
}

const UnaryOp kUnaryOps[] = {UnaryOp::Neg,     UnaryOp::Exp,       UnaryOp::Log,      UnaryOp::Sqrt,      UnaryOp::Rsqrt,
                             UnaryOp::Abs,     UnaryOp::Tanh,      UnaryOp::Sigmoid,  UnaryOp::Relu,      UnaryOp::LeakyRelu,
                             UnaryOp::Elu,     UnaryOp::Gelu,      UnaryOp::GeluTanh, UnaryOp::Silu,      UnaryOp::Softplus,
                             UnaryOp::PowScalar, UnaryOp::Clamp,   UnaryOp::AddScalar, UnaryOp::MulScalar, UnaryOp::Reciprocal};
const BinaryOp kBinaryOps[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                               BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum};

template <class T>
void check_unary(const Dims& shape) {
  const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  const int64_t n = element_count(shape);
  Dims strides(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1, s = 1; d >= 0; --d) strides[size_t(d)] = s, s *= shape[size_t(d)];
  const auto x = random_values<T>(n, 1, 0.1, 3.0), y = random_values<T>(n, 2, 0.1, 1.0), dy = random_values<T>(n, 3, -1, 1);
  const UnaryParams p{0.5, 2.0};
  for (UnaryOp op : kUnaryOps) {
    std::vector<T> fast(static_cast<size_t>(n)), reference(static_cast<size_t>(n));
    CHECK(unary_forward_contiguous(op, p, dtype, shape, fast.data(), x.data(), strides.data()));
    unary_forward_strided(op, p, dtype, shape, reference.data(), x.data(), strides.data());
    check_same(fast, reference);
    CHECK(unary_backward_contiguous(op, p, dtype, shape, fast.data(), x.data(), strides.data(), y.data(),
                                    strides.data(), dy.data(), strides.data()));
    unary_backward_strided(op, p, dtype, shape, reference.data(), x.data(), strides.data(), y.data(), strides.data(),
                           dy.data(), strides.data());
    check_same(fast, reference);
  }
}

template <class T>
void check_binary(const Dims& shape) {
  const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  const int64_t n = element_count(shape);
  Dims strides(shape.size()), zeros(shape.size(), 0);
  for (int64_t d = int64_t(shape.size()) - 1, s = 1; d >= 0; --d) strides[size_t(d)] = s, s *= shape[size_t(d)];
  const auto a = random_values<T>(n, 4, 0.5, 2.0), b = random_values<T>(n, 5, 0.5, 2.0), dy = random_values<T>(n, 6, -1, 1);
  for (BinaryOp op : kBinaryOps) {
    // both contiguous, b a broadcast scalar, a a broadcast scalar
    for (auto [as, bs] : {std::pair{strides.data(), strides.data()}, std::pair{strides.data(), zeros.data()},
                          std::pair{zeros.data(), strides.data()}}) {
      std::vector<T> fast(static_cast<size_t>(n)), reference(static_cast<size_t>(n));
      CHECK(binary_forward_contiguous(op, dtype, shape, fast.data(), a.data(), as, b.data(), bs));
      binary_forward_strided(op, dtype, shape, reference.data(), a.data(), as, b.data(), bs);
      check_same(fast, reference);
    }
    std::vector<T> da(static_cast<size_t>(n)), db(static_cast<size_t>(n)), ra(static_cast<size_t>(n)), rb(static_cast<size_t>(n));
    CHECK(binary_backward_contiguous(op, dtype, shape, da.data(), db.data(), a.data(), strides.data(), b.data(),
                                     strides.data(), dy.data(), strides.data()));
    binary_backward_strided(op, dtype, shape, ra.data(), rb.data(), a.data(), strides.data(), b.data(), strides.data(),
                            dy.data(), strides.data());
    check_same(da, ra);
    check_same(db, rb);
  }
}

}  // namespace

TEST_CASE("cpu elementwise fast path: flat_step tells contiguous, broadcast and strided operands", "[elementwise_fast]") {
  CHECK(flat_step({2, 3}, std::vector<int64_t>{3, 1}.data()) == 1);
  CHECK(flat_step({2, 1, 3}, std::vector<int64_t>{3, 99, 1}.data()) == 1);  // a size-1 dim's stride is free
  CHECK(flat_step({2, 3}, std::vector<int64_t>{0, 0}.data()) == 0);
  CHECK(flat_step({2, 3}, std::vector<int64_t>{1, 2}.data()) == -1);  // transposed
  CHECK(flat_step({2, 3}, std::vector<int64_t>{0, 1}.data()) == -1);  // a row broadcast
  CHECK(flat_step({2, 3}, std::vector<int64_t>{6, 1}.data()) == -1);  // every other row
}

TEST_CASE("cpu elementwise fast path: every unary op equals the strided reference", "[elementwise_fast]") {
  check_unary<float>({3, 5, 7});
  check_unary<double>({3, 5, 7});
  check_unary<float>({kParallelElements + 1000});  // several OpenMP chunks, a partial last one
}

TEST_CASE("cpu elementwise fast path: every binary op equals the strided reference, scalars broadcast", "[elementwise_fast]") {
  check_binary<float>({4, 33});
  check_binary<double>({4, 33});
  check_binary<float>({2, kParallelElements / 2 + 77});
}

TEST_CASE("cpu elementwise fast path: other layouts are left to the strided loop", "[elementwise_fast]") {
  const Dims shape{2, 3};
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  std::vector<float> y(6, -1.0f);
  const int64_t transposed[] = {1, 2}, row[] = {0, 1}, contiguous[] = {3, 1};
  CHECK_FALSE(unary_forward_contiguous(UnaryOp::Neg, {}, DType::Float32, shape, y.data(), x.data(), transposed));
  CHECK_FALSE(binary_forward_contiguous(BinaryOp::Add, DType::Float32, shape, y.data(), x.data(), contiguous, x.data(), row));
  CHECK(y == std::vector<float>(6, -1.0f));  // untouched
  // and the kernel the ops call still gives the right answer there: y = x + x[row 0 broadcast]
  binary_forward(BinaryOp::Add, DType::Float32, shape, y.data(), x.data(), contiguous, x.data(), row);
  CHECK(y == std::vector<float>{2, 4, 6, 5, 7, 9});
}

// ---- Reductions: reduce_contiguous (kernels/cpu/reduce.h) against reduce_strided ----

namespace {
template <class T>
void check_sum(const Dims& shape, const std::vector<int64_t>& dims, bool expect_fast) {
  const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  const int64_t n = element_count(shape);
  Dims strides(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1, s = 1; d >= 0; --d) strides[size_t(d)] = s, s *= shape[size_t(d)];
  const auto x = random_values<T>(n, 7, -1, 1);
  int64_t kept = n;
  for (int64_t d : dims) kept /= shape[size_t(d)];
  std::vector<T> fast(static_cast<size_t>(kept), T(-7)), reference(static_cast<size_t>(kept));
  REQUIRE(reduce_contiguous(ReduceKind::Sum, dtype, shape, strides.data(), x.data(), dims, fast.data()) == expect_fast);
  if (!expect_fast) return;
  reduce_strided(ReduceKind::Sum, dtype, shape, strides.data(), x.data(), dims, reference.data());
  // Both sum in double, in another order: equal up to double rounding, then rounded to T.
  const double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-12;
  for (size_t k = 0; k < fast.size(); ++k) CHECK(std::abs(double(fast[k]) - double(reference[k])) <= tolerance * (1 + std::abs(double(reference[k]))));
}
}  // namespace

TEST_CASE("cpu reduction fast path: contiguous sums over the last or first dims equal the reference", "[elementwise_fast]") {
  check_sum<float>({5, 7, 9}, {2}, true);      // rows
  check_sum<double>({5, 7, 9}, {1, 2}, true);  // rows of 63
  check_sum<float>({5, 7, 9}, {0, 1, 2}, true);
  check_sum<float>({5, 7, 9}, {0}, true);      // columns (a bias gradient)
  check_sum<double>({5, 7, 9}, {0, 1}, true);
  check_sum<float>({3 * kParallelElements + 5}, {0}, true);  // one long run in chunks
  check_sum<float>({5, 7, 9}, {1}, false);     // a middle dim: the reference
}
