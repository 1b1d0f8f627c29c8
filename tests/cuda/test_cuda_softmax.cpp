// CUDA softmax and log-softmax against the CPU reference, forward and backward, float32 and float64:
// along every dim (rows, columns, middle dims), lines of length 1, 3, 127, 1025, 5000, many short
// lines, non-contiguous inputs and output gradients, large and infinite values.
#include <limits>

#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, DType dtype, double lo = -2.0, double hi = 2.0) {
  Tensor t = random_input(shape, seed, lo, hi);
  if (dtype == DType::Float64) return t;
  Tensor f = t.detach().to(DType::Float32);
  f.requires_grad_(true);
  return f;
}

const DType kFloatTypes[] = {DType::Float64, DType::Float32};

}  // namespace

TEST_CASE("CUDA: softmax and log_softmax match the CPU along rows and columns of every length", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (int64_t n : {1, 3, 127, 1025, 5000}) {
      INFO("line length " << n);
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], -1), softmax(in[0], 0), log_softmax(in[0], 0)};
      }, {leaf({5, n}, 1, dt)}, tolerance_for(dt));
      // many lines along a strided dim (one thread per line), and a transposed input
      CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{softmax(in[0], 0), log_softmax(in[0], 0), softmax(in[0].t(), 1),
                                   log_softmax(in[0].t(), 1)};
      }, {leaf({n, 1100}, 2, dt)}, tolerance_for(dt));
    }
  }
}

TEST_CASE("CUDA: softmax and log_softmax match the CPU on n-d, non-contiguous inputs and gradients", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes) {
    INFO("dtype " << dtype_name(dt));
    for (int64_t dim : {0, 1, 2, 3, -1}) {
      INFO("dim " << dim);
      CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{softmax(in[0], dim), log_softmax(in[0], dim)};
      }, {leaf({3, 4, 5, 6}, 3, dt)}, tolerance_for(dt));
      // permuted and sliced input; the output gradient arrives transposed (strided dy)
      CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
        Tensor v = in[0].permute({3, 1, 0, 2}).slice(2, 0, 7, 2);  // [6, 4, 4, 5]
        return std::vector<Tensor>{softmax(v, dim).transpose(0, 2), log_softmax(v, dim).transpose(1, 3)};
      }, {leaf({7, 4, 5, 6}, 4, dt)}, tolerance_for(dt));
    }
    // attention-like shape: many rows of moderate length
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{softmax(in[0], -1), log_softmax(in[0], 2)};
    }, {leaf({2, 3, 64, 64}, 5, dt)}, tolerance_for(dt));
    // a 0-d input is a line of one
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{softmax(in[0], 0), log_softmax(in[0], -1)};
    }, {leaf({}, 6, dt)}, tolerance_for(dt));
    // large logits: the max shift keeps everything finite
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], 1)};
    }, {leaf({4, 300}, 7, dt, 50.0, 80.0)}, tolerance_for(dt));
    // −∞ entries, a line of −∞ (NaN), +∞ and NaN (forward only)
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    Tensor special = from_vector(std::vector<double>{1, -inf, 2, -inf, -inf, -inf, 0, inf, 1, 3, nan, 1}, {4, 3},
                                 {.dtype = dt});
    CHECK_CUDA_MATCHES_CPU([](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{softmax(in[0], 1), log_softmax(in[0], 1)};
    }, {special}, tolerance_for(dt));
  }
}
