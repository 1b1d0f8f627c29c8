// The Fréchet distance: closed forms for Gaussians, identical sets, and the eigen-solver under it.
#include "core/random.h"
#include "kiln_test.h"
#include "models/frechet.h"

using namespace kiln;
using namespace kiln::models;

TEST_CASE("Fréchet distance: closed form for diagonal Gaussians", "[models][frechet]") {
  // N(0, diag(1, 4)) vs N((1, 0), diag(4, 1)): |Δμ|² + Σ (σ₁² + σ₂² − 2σ₁σ₂) = 1 + (1 + 4 − 4) + (4 + 1 − 4) = 3
  GaussianStats a{2, 100, {0.0, 0.0}, {1.0, 0.0, 0.0, 4.0}};
  GaussianStats b{2, 100, {1.0, 0.0}, {4.0, 0.0, 0.0, 1.0}};
  CHECK(std::abs(frechet_distance(a, b) - 3.0) < 1e-10);
  CHECK(std::abs(frechet_distance(a, a)) < 1e-10);
  // A rotated (non-diagonal) covariance against itself is still at distance 0.
  GaussianStats c{2, 100, {0.5, -1.0}, {2.0, 0.7, 0.7, 1.0}};
  CHECK(std::abs(frechet_distance(c, c)) < 1e-10);
  CHECK_THROWS_WITH_TEXT(frechet_distance(a, GaussianStats{3, 1, {0, 0, 0}, std::vector<double>(9, 0.0)}),
                         "feature sizes differ (2 and 3)");
}

TEST_CASE("Fréchet distance: statistics of samples", "[models][frechet]") {
  Generator g(1);
  Tensor x = randn({4000, 3}, {.dtype = DType::Float64}, g);
  GaussianStats s = gaussian_stats(x);
  for (int i = 0; i < 3; ++i) {
    CHECK(std::abs(s.mean[size_t(i)]) < 0.1);
    CHECK(std::abs(s.covariance[size_t(4 * i)] - 1.0) < 0.1);
  }
  GaussianStats shifted = gaussian_stats(add(x, 2.0));
  CHECK(std::abs(frechet_distance(s, shifted) - 12.0) < 1e-8);  // only the means moved, by 2 in 3 dims
  CHECK_THROWS_WITH_TEXT(gaussian_stats(zeros({1, 3})), "features must be [N ≥ 2, D]");
}

TEST_CASE("symmetric eigen-decomposition", "[models][frechet]") {
  std::vector<double> vectors;
  std::vector<double> values = symmetric_eigen({2.0, 1.0, 1.0, 2.0}, 2, &vectors);
  CHECK(std::abs(values[0] - 1.0) < 1e-12);
  CHECK(std::abs(values[1] - 3.0) < 1e-12);
  CHECK(std::abs(std::abs(vectors[0]) - std::sqrt(0.5)) < 1e-12);  // (1, −1)/√2
  CHECK(vectors[0] * vectors[2] < 0);
}
