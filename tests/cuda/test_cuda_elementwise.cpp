// The CUDA elementwise ops against the CPU: every unary op (with its parameters), the binary ops with
// broadcasting and transposed inputs, comparisons (exactly), where / masked_fill, copies (strided,
// converting, the contiguous fast path) and fills; forward and backward, float32 and float64, sizes
// 1, 3, 127, 1025 and 100003 (grid-stride loops, vector tails), contiguous, transposed, sliced and
// misaligned (offset by one element: no 128-bit path) inputs. Skipped where no CUDA device is present.
#include <functional>
#include <string>

#include "core/random.h"
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

const std::vector<int64_t> kSizes = {1, 3, 127, 1025, 100003};
const std::vector<DType> kFloatTypes = {DType::Float32, DType::Float64};
constexpr kiln::test::Tolerance kExact{0, 0};

// A random leaf with requires_grad in [lo, hi), float64 or float32.
Tensor leaf(const Shape& shape, uint64_t seed, DType dtype, double lo = -2.0, double hi = 2.0) {
  Tensor t = random_input(shape, seed, lo, hi);
  if (dtype == DType::Float64) return t;
  Tensor f = t.detach().to(dtype);
  f.requires_grad_();
  return f;
}

// Small integers in [lo, hi) as `dtype`: many ties, for comparisons and max/min.
Tensor ties(const Shape& shape, uint64_t seed, DType dtype, int64_t lo = -2, int64_t hi = 3) {
  Generator gen(seed);
  return randint(lo, hi, shape, {.dtype = DType::Int64}, gen).to(dtype);
}

// How an n-element operand is laid out: the leaf's shape and the view the tested function takes of it.
struct Layout {
  std::string name;
  Shape leaf_shape;
  std::function<Tensor(const Tensor&)> view;
};

std::vector<Layout> layouts(int64_t n) {
  return {
      {"contiguous", {n}, [](const Tensor& t) { return t; }},
      // [n, 3] view of a [3, n] leaf: strides (1, n)
      {"transposed", {3, n}, [](const Tensor& t) { return t.t(); }},
      // columns 1..3 of an [n, 5] leaf: rows padded, strides (5, 1), offset 1
      {"sliced rows", {n, 5}, [](const Tensor& t) { return t.slice(1, 1, 4); }},
      // every other element: stride 2, offset 1
      {"step 2", {2 * n + 1}, [n](const Tensor& t) { return t.slice(0, 1, 2 * n + 1, 2); }},
      // contiguous but one element past the start: not 16-byte aligned, so the scalar contiguous path
      {"offset 1", {n + 1}, [n](const Tensor& t) { return t.slice(0, 1, n + 1); }},
  };
}

// ---------------------------------------------------------------- unary

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  double lo, hi;  // input range (inside the op's domain)
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, -3, 3},
      {"exp", [](const Tensor& x) { return exp(x); }, -3, 3},
      {"log", [](const Tensor& x) { return log(x); }, 0.1, 4},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.1, 4},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.1, 4},
      {"abs", [](const Tensor& x) { return abs(x); }, -3, 3},
      {"tanh", [](const Tensor& x) { return tanh(x); }, -3, 3},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -8, 8},
      {"relu", [](const Tensor& x) { return relu(x); }, -3, 3},
      {"leaky_relu(0.01)", [](const Tensor& x) { return leaky_relu(x); }, -3, 3},
      {"leaky_relu(0.2)", [](const Tensor& x) { return leaky_relu(x, 0.2); }, -3, 3},
      {"elu(1)", [](const Tensor& x) { return elu(x); }, -3, 3},
      {"elu(1.5)", [](const Tensor& x) { return elu(x, 1.5); }, -3, 3},
      {"gelu", [](const Tensor& x) { return gelu(x); }, -4, 4},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }, -4, 4},
      {"silu", [](const Tensor& x) { return silu(x); }, -6, 6},
      {"softplus(1, 20)", [](const Tensor& x) { return softplus(x); }, -6, 6},
      // beta 2, threshold 1: both branches (βx above and below the threshold)
      {"softplus(2, 1)", [](const Tensor& x) { return softplus(x, 2.0, 1.0); }, -3, 3},
      {"pow(2.5)", [](const Tensor& x) { return pow(x, 2.5); }, 0.1, 3},
      {"pow(-1.5)", [](const Tensor& x) { return pow(x, -1.5); }, 0.2, 3},
      {"pow(3) on negatives too", [](const Tensor& x) { return pow(x, 3.0); }, -2, 2},
      {"pow(0)", [](const Tensor& x) { return pow(x, 0.0); }, -2, 2},
      {"square", [](const Tensor& x) { return square(x); }, -2, 2},
      {"clamp(-0.5, 0.7)", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, -2, 2},
      {"clamp_min(0.3)", [](const Tensor& x) { return clamp_min(x, 0.3); }, -2, 2},
      {"clamp_max(-0.2)", [](const Tensor& x) { return clamp_max(x, -0.2); }, -2, 2},
      {"add_scalar", [](const Tensor& x) { return x + 3.0; }, -2, 2},
      {"sub_scalar", [](const Tensor& x) { return x - 1.25; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return x * -1.5; }, -2, 2},
      {"div_scalar", [](const Tensor& x) { return x / 4.0; }, -2, 2},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, 0.2, 3},
      {"scalar / x", [](const Tensor& x) { return 2.0 / x; }, 0.2, 3},
      {"scalar - x", [](const Tensor& x) { return 2.0 - x; }, -2, 2},
  };
}

void check_unary(const UnaryCase& c, DType dtype, int64_t n) {
  uint64_t seed = 100;
  for (const Layout& l : layouts(n)) {
    INFO(c.name << ", " << dtype_name(dtype) << ", n = " << n << ", " << l.name);
    Tensor x = leaf(l.leaf_shape, seed++, dtype, c.lo, c.hi);
    auto view = l.view;
    auto op = c.op;
    CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{op(view(in[0]))}; }, {x},
                           tolerance_for(dtype));
  }
}

// ---------------------------------------------------------------- binary

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

struct BinaryCase {
  std::string name;
  BinaryFn op;
  double lo_a, hi_a, lo_b, hi_b;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, -2, 2, -2, 2},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, -2, 2, -2, 2},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, -2, 2, -2, 2},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, -2, 2, 0.5, 2},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, 0.5, 2, -2, 2},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, -2, 2, -2, 2},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, -2, 2, -2, 2},
  };
}

// A pair of operand shapes and views: the op sees view_a(a) ∘ view_b(b).
struct PairLayout {
  std::string name;
  Shape a_shape, b_shape;
  std::function<Tensor(const Tensor&)> view_a, view_b;
};

std::vector<PairLayout> pair_layouts(int64_t n) {
  auto id = [](const Tensor& t) { return t; };
  auto tr = [](const Tensor& t) { return t.t(); };
  // an r × c grid with about n elements (r, c ≥ 1; 2-D broadcasting and transposes)
  int64_t r = n >= 1025 ? 97 : (n >= 127 ? 13 : n), c = std::max<int64_t>(1, n / r);
  return {
      {"same shape", {n}, {n}, id, id},
      {"a offset 1 (unaligned)", {n + 1}, {n}, [n](const Tensor& t) { return t.slice(0, 1, n + 1); }, id},
      {"b is a 0-dim scalar", {n}, {}, id, id},
      {"a is a 0-dim scalar", {}, {n}, id, id},
      {"column [r,1] with row [c]", {r, 1}, {c}, id, id},
      {"row [c] with grid [r,c]", {c}, {r, c}, id, id},
      {"a transposed", {c, r}, {r, c}, tr, id},
      {"both transposed", {c, r}, {c, r}, tr, tr},
      {"a transposed with row [c]", {c, r}, {c}, tr, id},
      {"3-d [4,1,c] with sliced [r,1]", {4, 1, c}, {r, 2}, id, [](const Tensor& t) { return t.slice(1, 1, 2); }},
  };
}

void check_binary(const BinaryCase& c, DType dtype, int64_t n) {
  uint64_t seed = 200;
  for (const PairLayout& l : pair_layouts(n)) {
    INFO(c.name << ", " << dtype_name(dtype) << ", n = " << n << ", " << l.name);
    Tensor a = leaf(l.a_shape, seed++, dtype, c.lo_a, c.hi_a), b = leaf(l.b_shape, seed++, dtype, c.lo_b, c.hi_b);
    auto va = l.view_a, vb = l.view_b;
    auto op = c.op;
    CHECK_CUDA_MATCHES_CPU(
        [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{op(va(in[0]), vb(in[1]))}; }, {a, b},
        tolerance_for(dtype));
  }
}

}  // namespace

TEST_CASE("CUDA elementwise: every unary op matches the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (const UnaryCase& c : unary_cases())
    for (DType dtype : kFloatTypes)
      for (int64_t n : kSizes) check_unary(c, dtype, n);
}

TEST_CASE("CUDA elementwise: binary ops match the CPU with broadcasting and transposed inputs", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (const BinaryCase& c : binary_cases())
    for (DType dtype : kFloatTypes)
      for (int64_t n : kSizes) check_binary(c, dtype, n);
}

TEST_CASE("CUDA elementwise: maximum and minimum split ties like the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dtype : kFloatTypes)
    for (int64_t n : kSizes) {
      INFO(dtype_name(dtype) << ", n = " << n);
      Tensor a = ties({n}, 1, dtype), b = ties({n}, 2, dtype), row = ties({n}, 3, dtype);
      a.requires_grad_();
      b.requires_grad_();
      row.requires_grad_();
      Tensor col = ties({5, 1}, 4, dtype);
      col.requires_grad_();
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& in) {
            return std::vector<Tensor>{maximum(in[0], in[1]), minimum(in[0], in[1]), maximum(in[2], in[3]),
                                       minimum(in[3], in[2])};
          },
          {a, b, row, col}, tolerance_for(dtype));
    }
}

TEST_CASE("CUDA elementwise: comparisons equal the CPU exactly", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  using CmpScalar = Tensor (*)(const Tensor&, double);
  struct CmpCase {
    const char* name;
    Cmp cmp;
    CmpScalar cmp_scalar;
  };
  const std::vector<CmpCase> ops = {
      {"eq", &kiln::eq, &kiln::eq}, {"ne", &kiln::ne, &kiln::ne}, {"lt", &kiln::lt, &kiln::lt},
      {"le", &kiln::le, &kiln::le}, {"gt", &kiln::gt, &kiln::gt}, {"ge", &kiln::ge, &kiln::ge},
  };
  for (const CmpCase& op : ops)
    for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::Int32})
      for (int64_t n : kSizes) {
        INFO(op.name << ", " << dtype_name(dtype) << ", n = " << n);
        Cmp cmp = op.cmp;
        CmpScalar cmp_scalar = op.cmp_scalar;
        for (const PairLayout& l : pair_layouts(n)) {
          INFO(l.name);
          Tensor a = ties(l.a_shape, 11, dtype), b = ties(l.b_shape, 12, dtype);
          auto va = l.view_a, vb = l.view_b;
          CHECK_CUDA_MATCHES_CPU(
              [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{cmp(va(in[0]), vb(in[1]))}; }, {a, b},
              kExact);
        }
        Tensor x = ties({n}, 13, dtype);
        CHECK_CUDA_MATCHES_CPU(
            [&](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{cmp_scalar(in[0], 0.0), cmp_scalar(in[0].slice(0, 0, n, 2), 1.0)};
            },
            {x}, kExact);
      }
  // bool operands (uint8-sized loads, 16 per 128-bit pack)
  for (int64_t n : kSizes) {
    INFO("bool, n = " << n);
    Tensor a = ties({n}, 14, DType::Bool, 0, 2), b = ties({n}, 15, DType::Bool, 0, 2);
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{eq(in[0], in[1]), ne(in[0], in[1]), lt(in[0], in[1]), ge(in[0], in[1])};
        },
        {a, b}, kExact);
  }
}

TEST_CASE("CUDA elementwise: where and masked_fill match the CPU, forward and backward", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dtype : kFloatTypes)
    for (int64_t n : kSizes) {
      INFO(dtype_name(dtype) << ", n = " << n);
      int64_t r = n >= 1025 ? 97 : (n >= 127 ? 13 : n), c = std::max<int64_t>(1, n / r);
      // same shapes, contiguous
      Tensor cond = gt(ties({n}, 21, DType::Float64), 0.0);
      Tensor a = leaf({n}, 22, dtype), b = leaf({n}, 23, dtype);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& in) { return std::vector<Tensor>{where(in[0], in[1], in[2])}; }, {cond, a, b},
          tolerance_for(dtype));
      // broadcast condition [r,1], transposed a [r,c], row b [c]; and a sliced condition
      Tensor cond_col = gt(ties({r, 1}, 24, DType::Float64), 0.0);
      Tensor cond_wide = gt(ties({r, 2 * c}, 25, DType::Float64), 0.0);
      Tensor at = leaf({c, r}, 26, dtype), row = leaf({c}, 27, dtype);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& in) {
            int64_t cols = in[3].numel();
            return std::vector<Tensor>{where(in[0], in[2].t(), in[3]),
                                       where(in[1].slice(1, 0, 2 * cols, 2), in[3], in[2].t())};
          },
          {cond_col, cond_wide, at, row}, tolerance_for(dtype));
      // masked_fill: full mask, broadcast row mask, transposed input
      Tensor mask = gt(ties({r, c}, 28, DType::Float64), 0.5), mask_row = gt(ties({c}, 29, DType::Float64), 0.5);
      Tensor x = leaf({r, c}, 30, dtype), xt = leaf({c, r}, 31, dtype);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& in) {
            return std::vector<Tensor>{masked_fill(in[2], in[0], 7.0), masked_fill(in[3].t(), in[1], -1.5),
                                       masked_fill(in[3].t(), in[0], 0.0) * in[2]};
          },
          {mask, mask_row, x, xt}, tolerance_for(dtype));
    }
  // where on integer and bool values
  for (DType dtype : {DType::Int64, DType::Int32, DType::Bool}) {
    INFO(dtype_name(dtype));
    Tensor cond = gt(ties({1025}, 32, DType::Float64), 0.0);
    Tensor a = ties({1025}, 33, dtype, 0, 2), b = ties({1025}, 34, dtype, 0, 2);
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{where(in[0], in[1], in[2]), 
                                     // three different stride-3 views of 341 elements each
                                     where(in[0].slice(0, 0, 1023, 3), in[2].slice(0, 1, 1024, 3),
                                           in[1].slice(0, 2, 1025, 3))};
        },
        {cond, a, b}, kExact);
  }
}

TEST_CASE("CUDA elementwise: copies (contiguous, strided, broadcast, converting) match the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dtype : kFloatTypes) {
    DType other = dtype == DType::Float32 ? DType::Float64 : DType::Float32;
    for (int64_t n : kSizes) {
      INFO(dtype_name(dtype) << ", n = " << n);
      for (const Layout& l : layouts(n)) {
        INFO(l.name);
        Tensor x = leaf(l.leaf_shape, 40, dtype);
        auto view = l.view;
        // clone: one memcpy when the view is contiguous (also at offset 1), else the strided kernel;
        // to(other): the converting kernel; both differentiable
        CHECK_CUDA_MATCHES_CPU(
            [&](const std::vector<Tensor>& in) {
              Tensor v = view(in[0]);
              return std::vector<Tensor>{v.clone(), v.contiguous(), v.to(other) * 2.0};
            },
            {x}, tolerance_for(dtype));
      }
      // broadcast source: a row expanded to a grid
      Tensor row = leaf({n}, 41, dtype);
      CHECK_CUDA_MATCHES_CPU(
          [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0].expand({3, in[0].numel()}).contiguous()}; },
          {row}, tolerance_for(dtype));
      // copy_ into a strided (transposed) destination, same dtype and converting
      Tensor src = leaf({n, 3}, 42, dtype);
      CHECK_CUDA_MATCHES_CPU(
          [other](const std::vector<Tensor>& in) {
            Tensor s = in[0].detach();
            Tensor same = zeros({3, s.size(0)}, {.dtype = s.dtype(), .device = s.device()});
            Tensor conv = zeros({3, s.size(0)}, {.dtype = other, .device = s.device()});
            same.t().copy_(s);
            conv.t().copy_(s);
            Tensor into_slice = zeros({s.size(0), 7}, {.dtype = s.dtype(), .device = s.device()});
            into_slice.slice(1, 2, 5).copy_(s.t().t());
            return std::vector<Tensor>{same, conv, into_slice};
          },
          {src}, tolerance_for(dtype));
    }
  }
  // integer and bool conversions (exact): float → int64 truncates, float → bool is "≠ 0"
  for (int64_t n : kSizes) {
    INFO("conversions, n = " << n);
    Tensor f = random_input({n}, 43, -5, 5).detach();
    Tensor i = ties({n}, 44, DType::Int64, -3, 4);
    CHECK_CUDA_MATCHES_CPU(
        [](const std::vector<Tensor>& in) {
          const Tensor& x = in[0];
          const Tensor& k = in[1];
          return std::vector<Tensor>{x.to(DType::Int64), x.to(DType::Int32), x.to(DType::Bool),
                                     x.to(DType::Float32).to(DType::Int64), k.to(DType::Float32), k.to(DType::Float64),
                                     k.to(DType::Int32).to(DType::Int64), k.to(DType::Bool).to(DType::Float32),
                                     k.to(DType::UInt8).to(DType::Int64), gt(k, 0.0).to(DType::Int64)};
        },
        {f, i}, kExact);
  }
}

TEST_CASE("CUDA elementwise: fills match the CPU, contiguous and strided", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (int64_t n : kSizes) {
    INFO("n = " << n);
    Tensor seed_input = random_input({1}, 50).detach();  // only carries the device
    CHECK_CUDA_MATCHES_CPU(
        [n](const std::vector<Tensor>& in) {
          Device d = in[0].device();
          std::vector<Tensor> out;
          for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8, DType::Bool})
            out.push_back(full({n}, 3.0, {.dtype = dt, .device = d}));
          Tensor g = zeros({n, 5}, {.dtype = DType::Float64, .device = d});
          g.slice(1, 1, 5, 2).fill_(-2.5);
          out.push_back(g);
          Tensor h = zeros({5, n}, {.dtype = DType::Float32, .device = d});
          h.t().slice(0, 0, n, 3).fill_(1.5);
          out.push_back(h);
          out.push_back(full({}, 0.25, {.dtype = DType::Float64, .device = d}));
          return out;
        },
        {seed_input}, kExact);
  }
}
