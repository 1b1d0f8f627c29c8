#include "models/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace kiln::models {

// p_i ∝ exp((l_i − max l)/temperature) over the top_k largest logits (ties at the k-th value kept),
// u ~ U[0, 1): the first i whose cumulative probability exceeds u·Σp.
int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, Generator& generator) {
  KILN_CHECK(logits.dim() == 1 && logits.numel() > 0, "sample_token: logits must be a non-empty vector");
  KILN_CHECK(temperature > 0.0 && std::isfinite(temperature), "sample_token: temperature must be positive, got ",
             temperature);
  const std::vector<double> l = logits.detach().cpu().to(DType::Float64).contiguous().to_vector<double>();
  for (double v : l)  // −∞ masks a token out; NaN or +∞ means the model's weights have diverged
    KILN_CHECK(!std::isnan(v) && v != INFINITY, "sample_token: the logits hold ", v, " (has the model diverged? its ",
               "weights may hold NaN)");
  const int64_t n = int64_t(l.size());
  double cutoff = -INFINITY;
  if (top_k > 0 && top_k < n) {
    std::vector<double> sorted = l;
    std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<double>());
    cutoff = sorted[size_t(top_k - 1)];
  }
  const double top = *std::max_element(l.begin(), l.end());
  std::vector<double> p(l.size(), 0.0);
  for (size_t i = 0; i < l.size(); ++i)
    if (l[i] >= cutoff) p[i] = std::exp((l[i] - top) / temperature);
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  const double u = rand({1}, {.dtype = DType::Float64}, generator).item() * total;
  double acc = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    acc += p[i];
    if (u < acc) return int64_t(i);
  }
  return int64_t(std::max_element(p.begin(), p.end()) - p.begin());  // u·Σp at the very top (round-off)
}

}  // namespace kiln::models
