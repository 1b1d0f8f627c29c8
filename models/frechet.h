// The Fréchet distance between two sets of feature vectors, each summarized by a Gaussian (mean μ,
// covariance Σ): d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) (Heusel et al., 2017, "FID"). kiln computes it
// on the 128 features of its own Fashion-MNIST classifier, with the real test set as reference, so
// figures are comparable between kiln runs, not with Inception-based FIDs in papers.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::models {

struct GaussianStats {
  int64_t dim = 0;
  int64_t count = 0;
  std::vector<double> mean;        // [dim]
  std::vector<double> covariance;  // [dim, dim] row-major, unbiased (divided by count − 1)
};

// Mean and covariance of features [N, D] (N ≥ 2; any float dtype and device).
GaussianStats gaussian_stats(const Tensor& features);
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

// Eigenvalues of a symmetric matrix [n, n] (row-major), by cyclic Jacobi rotations; ascending.
// Also returns the eigenvectors as the columns of `vectors` when it is not null.
std::vector<double> symmetric_eigen(std::vector<double> matrix, int64_t n, std::vector<double>* vectors = nullptr);

}  // namespace kiln::models
