#include "golden_harness.h"

#include <cmath>
#include <cstdio>

#include "core/allocator.h"
#include "core/cuda_context.h"

namespace kiln::test {

std::string GoldenConfig::name() const { return std::string(dtype_name(dtype)) + " on " + device.str(); }

std::vector<GoldenConfig> golden_configs() {
  std::vector<GoldenConfig> configs = {{Device::cpu(), DType::Float64, kGoldenFloat64},
                                       {Device::cpu(), DType::Float32, kGoldenFloat32}};
  if (cuda_is_available()) {
    set_allow_tf32(false);  // PyTorch's default for float32 matmuls too: full float32 products
    configs.push_back({Device::cuda(0), DType::Float32, kGoldenFloat32});
  }
  return configs;
}

GoldenFile::GoldenFile(const std::string& file_name) : file_(load_safetensors(golden_path(file_name))) {}

Tensor GoldenFile::get(const std::string& name, const GoldenConfig& config, bool requires_grad) const {
  Tensor t = file_.at(name);
  if (is_floating(t.dtype())) t = t.to(config.dtype);
  t = t.to(config.device).detach().clone();
  if (requires_grad) t.requires_grad_(true);
  return t;
}

void GoldenFile::load_weights(Module& m, const std::string& prefix, const GoldenConfig& config) const {
  m.to(config.device);
  m.to(config.dtype);
  NamedTensors state;
  for (const auto& [name, t] : m.state_dict()) state.emplace_back(name, file_.at(prefix + "." + name));
  m.load_state_dict(state);
}

GoldenReport::GoldenReport(std::string case_name, const GoldenConfig& config)
    : prefix_("golden " + case_name + " [" + config.name() + "]"), tolerance_(config.tolerance) {}

bool GoldenReport::compare(const std::string& name, const Tensor& actual, const Tensor& expected) {
  char line[512];
  if (actual.shape() != expected.shape()) {
    std::snprintf(line, sizeof line, "%s  %-28s shape %s, PyTorch's %s  MISMATCH", prefix_.c_str(), name.c_str(),
                  shape_str(actual.shape()).c_str(), shape_str(expected.shape()).c_str());
    last_line_ = line;
    std::printf("%s\n", line);
    return false;
  }
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double max_abs = 0.0, max_rel = 0.0;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(a[i] - e[i]);
    if (std::isnan(a[i]) != std::isnan(e[i])) ok = false;
    if (std::isnan(diff)) continue;
    max_abs = std::max(max_abs, diff);
    if (e[i] != 0.0) max_rel = std::max(max_rel, diff / std::fabs(e[i]));
    if (diff > tolerance_.atol + tolerance_.rtol * std::fabs(e[i])) ok = false;
  }
  std::snprintf(line, sizeof line, "%s  %-28s max abs %.2e  max rel %.2e  %s (atol %.0e, rtol %.0e)",
                prefix_.c_str(), name.c_str(), max_abs, max_rel, ok ? "ok" : "EXCEEDS", tolerance_.atol,
                tolerance_.rtol);
  last_line_ = line;
  std::printf("%s\n", line);
  return ok;
}

}  // namespace kiln::test
