#include <algorithm>

#include "core/random.h"
#include "kiln_test.h"

namespace kiln::test {

std::filesystem::path fresh_dir(const std::string& group, const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kiln_test_" + group) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Tensor random_input(const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator gen(seed);
  Tensor t = uniform(shape, lo, hi, {.dtype = DType::Float64}, gen);
  t.requires_grad_(true);
  return t;
}

CloseResult all_close(const Tensor& actual, const std::vector<double>& expected, double atol, double rtol) {
  std::vector<double> a = actual.to_vector<double>();
  if (a.size() != expected.size())
    return {false, "size mismatch: " + std::to_string(a.size()) + " vs " + std::to_string(expected.size())};
  double worst = -1;
  size_t at = 0;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    double diff = std::fabs(a[i] - expected[i]);
    bool bad = !(diff <= atol + rtol * std::fabs(expected[i])) && !(std::isnan(a[i]) && std::isnan(expected[i])) &&
               !(a[i] == expected[i]);
    if (bad) ok = false;
    if (bad || diff > worst) {
      if (!ok && !bad) continue;
      worst = diff;
      at = i;
    }
  }
  std::ostringstream os;
  if (!a.empty())
    os << "worst element " << at << ": actual " << a[at] << ", expected " << expected[at] << ", |diff| " << worst
       << " (atol " << atol << ", rtol " << rtol << ")";
  return {ok, os.str()};
}

CloseResult all_close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  if (actual.shape() != expected.shape())
    return {false, "shape mismatch: " + shape_str(actual.shape()) + " vs " + shape_str(expected.shape())};
  return all_close(actual, expected.to_vector<double>(), atol, rtol);
}

}  // namespace kiln::test
