// CUDA losses against the CPU reference, forward and backward, float32 and float64: cross_entropy on
// [C], [N, C] and [N, C, d...] logits (class counts 1, 3, 127, 1025, 5000), with ignore_index present,
// all targets ignored, label smoothing, every Reduction, non-contiguous logits; the pointwise losses
// (BCE with logits, MSE, Gaussian KL) with every Reduction, strided inputs and one-sided gradients.
#include <cmath>

#include "core/random.h"
#include "cuda/conformance.h"

using namespace kiln;
using kiln::test::random_input;
using kiln::test::tolerance_for;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor t = random_input(shape, seed);
  if (dtype == DType::Float64) return t;
  Tensor f = t.detach().to(DType::Float32);
  f.requires_grad_(true);
  return f;
}

// Targets in [0, classes), with every `every`-th one replaced by `ignore` (none when every is 0).
Tensor targets(const Shape& shape, int64_t classes, uint64_t seed, int64_t every, int64_t ignore) {
  Generator gen(seed);
  std::vector<int64_t> t = randint(0, classes, shape, {.dtype = DType::Int64}, gen).to_vector<int64_t>();
  if (every > 0)
    for (size_t i = 0; i < t.size(); i += size_t(every)) t[i] = ignore;
  return from_vector(t, shape, {.dtype = DType::Int64});
}

const DType kFloatTypes[] = {DType::Float64, DType::Float32};
const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

}  // namespace

TEST_CASE("CUDA: cross_entropy on [N, C] matches the CPU (class counts, ignore_index, smoothing, reductions)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes)
    for (int64_t classes : {1, 3, 127, 1025, 5000})
      for (Reduction r : kReductions)
        for (double eps : {0.0, 0.1, 1.0}) {
          INFO("dtype " << dtype_name(dt) << " classes " << classes << " reduction " << int(r) << " smoothing " << eps);
          CrossEntropyOptions opt{.label_smoothing = eps, .reduction = r};
          auto fn = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{cross_entropy(in[0], in[1], opt)}; };
          // default ignore_index (−100) present in the targets
          CHECK_CUDA_MATCHES_CPU(fn, {leaf({6, classes}, 1, dt), targets({6}, classes, 2, 3, -100)}, tolerance_for(dt));
          // no ignored target, more rows
          CHECK_CUDA_MATCHES_CPU(fn, {leaf({37, classes}, 3, dt), targets({37}, classes, 4, 0, 0)}, tolerance_for(dt));
          // an ignore_index that is a real class
          if (classes >= 3) {
            CrossEntropyOptions opt2{.ignore_index = 2, .label_smoothing = eps, .reduction = r};
            CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{cross_entropy(in[0], in[1], opt2)};
            }, {leaf({9, classes}, 5, dt), targets({9}, classes, 6, 4, 2)}, tolerance_for(dt));
          }
        }
}

TEST_CASE("CUDA: cross_entropy on [N, C, d...], unbatched and non-contiguous logits matches the CPU", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes)
    for (Reduction r : kReductions)
      for (double eps : {0.0, 0.25}) {
        INFO("dtype " << dtype_name(dt) << " reduction " << int(r) << " smoothing " << eps);
        CrossEntropyOptions opt{.label_smoothing = eps, .reduction = r};
        auto fn = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{cross_entropy(in[0], in[1], opt)}; };
        // [N, C, d]: short class lines; with 1200 positions one thread per position (class dim strided)
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({2, 5, 7}, 10, dt), targets({2, 7}, 5, 11, 4, -100)}, tolerance_for(dt));
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({2, 5, 600}, 12, dt), targets({2, 600}, 5, 13, 7, -100)}, tolerance_for(dt));
        // [N, C, d1, d2] with many classes
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({2, 130, 3, 4}, 14, dt), targets({2, 3, 4}, 130, 15, 5, -100)},
                               tolerance_for(dt));
        // unbatched [C] with a 0-d target
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({11}, 16, dt), targets({}, 11, 17, 0, 0)}, tolerance_for(dt));
        // non-contiguous logits: [C, N] transposed, and [N, d, C] permuted to [N, C, d]
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{cross_entropy(in[0].t(), in[1], opt)};
        }, {leaf({40, 9}, 18, dt), targets({9}, 40, 19, 4, -100)}, tolerance_for(dt));
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{cross_entropy(in[0].permute({0, 2, 1}), in[1], opt)};
        }, {leaf({3, 8, 6}, 20, dt), targets({3, 8}, 6, 21, 5, -100)}, tolerance_for(dt));
        // non-contiguous targets
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{cross_entropy(in[0], in[1].t(), opt)};
        }, {leaf({4, 3, 5}, 22, dt), targets({5, 4}, 3, 23, 3, -100)}, tolerance_for(dt));
      }
}

TEST_CASE("CUDA: cross_entropy with every target ignored matches the CPU (mean is NaN, gradients 0)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  for (DType dt : kFloatTypes)
    for (Reduction r : kReductions) {
      INFO("dtype " << dtype_name(dt) << " reduction " << int(r));
      CrossEntropyOptions opt{.reduction = r};
      CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{cross_entropy(in[0], in[1], opt)};
      }, {leaf({4, 6}, 30, dt), targets({4}, 6, 31, 1, -100)}, tolerance_for(dt));
    }
}

TEST_CASE("CUDA: the pointwise losses match the CPU (every Reduction, strided inputs, one-sided gradients)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  using LossFn = Tensor (*)(const Tensor&, const Tensor&, Reduction);
  const LossFn losses[] = {binary_cross_entropy_with_logits, mse_loss, gaussian_kl};
  for (DType dt : kFloatTypes)
    for (LossFn loss : losses)
      for (Reduction r : kReductions) {
        INFO("dtype " << dtype_name(dt) << " loss " << (loss == mse_loss ? "mse" : loss == gaussian_kl ? "kl" : "bce")
                      << " reduction " << int(r));
        auto fn = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{loss(in[0], in[1], r)}; };
        for (int64_t n : {1, 3, 127, 1025}) {
          INFO("n " << n);
          CHECK_CUDA_MATCHES_CPU(fn, {leaf({n}, 40, dt), leaf({n}, 41, dt)}, tolerance_for(dt));
        }
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({3, 4, 5}, 42, dt), leaf({3, 4, 5}, 43, dt)}, tolerance_for(dt));
        // strided and broadcast (expanded) operands
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{loss(in[0].t(), in[1].slice(1, 0, 10, 2), r)};
        }, {leaf({5, 7}, 44, dt), leaf({7, 10}, 45, dt)}, tolerance_for(dt));
        CHECK_CUDA_MATCHES_CPU([&](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{loss(in[0], in[1].expand({6, 8}), r)};
        }, {leaf({6, 8}, 46, dt), leaf({1, 8}, 47, dt)}, tolerance_for(dt));
        // only one side requires grad
        Tensor plain = leaf({4, 9}, 48, dt).detach();
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({4, 9}, 49, dt), plain}, tolerance_for(dt));
        CHECK_CUDA_MATCHES_CPU(fn, {plain, leaf({4, 9}, 50, dt)}, tolerance_for(dt));
        // a 0-d pair
        CHECK_CUDA_MATCHES_CPU(fn, {leaf({}, 51, dt), leaf({}, 52, dt)}, tolerance_for(dt));
      }
}

TEST_CASE("CUDA: cross_entropy with a target out of range gives NaN (the CPU throws, a GPU check would sync)", "[cuda]") {
  REQUIRE_CUDA_OR_SKIP();
  Tensor logits = random_input({3, 5}, 60).detach().to(Device::cuda());
  logits.requires_grad_(true);
  Tensor target = from_vector(std::vector<int64_t>{1, 7, -100}, {3}, {.dtype = DType::Int64}).to(Device::cuda());
  Tensor per_row = cross_entropy(logits, target, {.reduction = Reduction::None}).cpu();
  CHECK(per_row.to_vector<double>()[0] == per_row.to_vector<double>()[0]);
  CHECK(std::isnan(per_row.to_vector<double>()[1]));
  CHECK(per_row.to_vector<double>()[2] == 0);
  Tensor mean_loss = cross_entropy(logits, target);
  CHECK(std::isnan(mean_loss.item()));
  mean_loss.backward();
  std::vector<double> g = logits.grad().cpu().to_vector<double>();
  for (int c = 0; c < 5; ++c) {
    CHECK(!std::isnan(g[size_t(c)]));
    CHECK(std::isnan(g[size_t(5 + c)]));
    CHECK(g[size_t(10 + c)] == 0);
  }
}
