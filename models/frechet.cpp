#include "models/frechet.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/shape.h"

namespace kiln::models {

GaussianStats gaussian_stats(const Tensor& features) {
  KILN_CHECK(features.dim() == 2 && features.size(0) >= 2, "gaussian_stats: features must be [N ≥ 2, D], got ",
             shape_str(features.shape()));
  const int64_t n = features.size(0), d = features.size(1);
  const std::vector<double> x = features.detach().cpu().to(DType::Float64).contiguous().to_vector<double>();
  GaussianStats s{d, n, std::vector<double>(size_t(d), 0.0), std::vector<double>(size_t(d * d), 0.0)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) s.mean[size_t(j)] += x[size_t(i * d + j)] / double(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double cj = x[size_t(i * d + j)] - s.mean[size_t(j)];
      for (int64_t k = j; k < d; ++k) s.covariance[size_t(j * d + k)] += cj * (x[size_t(i * d + k)] - s.mean[size_t(k)]);
    }
  for (int64_t j = 0; j < d; ++j)
    for (int64_t k = j; k < d; ++k) {
      double& c = s.covariance[size_t(j * d + k)];
      c /= double(n - 1);
      s.covariance[size_t(k * d + j)] = c;
    }
  return s;
}

// Cyclic Jacobi: repeatedly zero each off-diagonal a_pq by a rotation in the (p, q) plane, until the
// off-diagonal mass is negligible; the diagonal then holds the eigenvalues.
std::vector<double> symmetric_eigen(std::vector<double> a, int64_t n, std::vector<double>* vectors) {
  KILN_CHECK(n >= 0 && int64_t(a.size()) == n * n, "symmetric_eigen: expected ", n, "×", n, " values, got ", a.size());
  auto at = [&](int64_t i, int64_t j) -> double& { return a[size_t(i * n + j)]; };
  std::vector<double> v(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) (i == j ? total : off) += at(i, j) * at(i, j);
    if (off <= 1e-30 * (total + off) || off == 0.0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (at(p, q) == 0.0) continue;
        // tan of the rotation angle: t = sgn(θ)/(|θ| + √(θ² + 1)), θ = (a_qq − a_pp)/(2 a_pq)
        const double theta = (at(q, q) - at(p, p)) / (2.0 * at(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p and q
          const double kp = at(k, p), kq = at(k, q);
          at(k, p) = c * kp - s * kq;
          at(k, q) = s * kp + c * kq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p and q
          const double pk = at(p, k), qk = at(q, k);
          at(p, k) = c * pk - s * qk;
          at(q, k) = s * pk + c * qk;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double kp = v[size_t(k * n + p)], kq = v[size_t(k * n + q)];
          v[size_t(k * n + p)] = c * kp - s * kq;
          v[size_t(k * n + q)] = s * kp + c * kq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return at(i, i) < at(j, j); });
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[size_t(i)] = at(order[size_t(i)], order[size_t(i)]);
  if (vectors) {
    vectors->assign(size_t(n * n), 0.0);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t i = 0; i < n; ++i) (*vectors)[size_t(k * n + i)] = v[size_t(k * n + order[size_t(i)])];
  }
  return values;
}

// Tr((Σ₁Σ₂)^½) = Σ √λᵢ(Σ₁^½ Σ₂ Σ₁^½), with Σ₁^½ = V diag(√λ) Vᵀ from Σ₁'s eigen-decomposition
// (negative round-off eigenvalues are clipped to 0).
double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  KILN_CHECK(a.dim == b.dim && a.dim > 0, "frechet_distance: feature sizes differ (", a.dim, " and ", b.dim, ")");
  const int64_t d = a.dim;
  auto idx = [d](int64_t i, int64_t j) { return size_t(i * d + j); };
  std::vector<double> vecs;
  std::vector<double> lambda = symmetric_eigen(a.covariance, d, &vecs);
  std::vector<double> root(size_t(d * d), 0.0);  // Σ₁^½
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k)
        root[idx(i, j)] += vecs[idx(i, k)] * std::sqrt(std::max(0.0, lambda[size_t(k)])) * vecs[idx(j, k)];
  std::vector<double> tmp(size_t(d * d), 0.0), m(size_t(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) tmp[idx(i, j)] += root[idx(i, k)] * b.covariance[idx(k, j)];
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) m[idx(i, j)] += tmp[idx(i, k)] * root[idx(k, j)];
  for (int64_t i = 0; i < d; ++i)  // symmetrize round-off
    for (int64_t j = i + 1; j < d; ++j) m[idx(i, j)] = m[idx(j, i)] = 0.5 * (m[idx(i, j)] + m[idx(j, i)]);
  double trace_sqrt = 0.0;
  for (double l : symmetric_eigen(m, d)) trace_sqrt += std::sqrt(std::max(0.0, l));
  double dist = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    const double diff = a.mean[size_t(i)] - b.mean[size_t(i)];
    dist += diff * diff + a.covariance[idx(i, i)] + b.covariance[idx(i, i)];
  }
  return dist - 2.0 * trace_sqrt;
}

}  // namespace kiln::models
