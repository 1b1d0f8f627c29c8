#include "apps/divergence_guard.h"

#include <cmath>
#include <cstdio>

#include "apps/cli_args.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"

namespace kiln::apps {

OnNan parse_on_nan(const std::string& text) {
  if (text == "skip") return OnNan::Skip;
  if (text == "rollback") return OnNan::Rollback;
  if (text == "stop") return OnNan::Stop;
  throw cli::UsageError("--on-nan " + text + ": expected skip, rollback or stop");
}

const char* on_nan_name(OnNan mode) {
  return mode == OnNan::Skip ? "skip" : mode == OnNan::Rollback ? "rollback" : "stop";
}

namespace {

// "nan", "inf" or "-inf".
std::string non_finite_name(double v) { return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

}  // namespace

void DivergenceGuard::record_loss(const std::string& name, const Tensor& value) {
  current_.emplace_back(name, value.detach());
}

void DivergenceGuard::end_step(int64_t step, const std::vector<Tensor>& params, bool check_weights) {
  NoGradGuard no_grad;
  StepRecord r;
  r.step = step;
  r.losses = std::move(current_);
  current_.clear();
  // Sums in the parameters' dtype (three small kernels per tensor): a norm too large for it is inf,
  // which is divergence anyway.
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (g.defined()) {
      Tensor squares = sum(mul(g, g));
      r.grad_norm = r.grad_norm.defined() ? add(r.grad_norm, squares) : squares;
    }
    if (check_weights) {
      Tensor differences = sum(sub(p, p));  // 0 for finite weights, nan for nan and ±inf
      r.weights_finite = r.weights_finite.defined() ? add(r.weights_finite, differences) : differences;
    }
  }
  if (r.grad_norm.defined()) r.grad_norm = sqrt(r.grad_norm).to(DType::Float64);
  if (r.weights_finite.defined()) r.weights_finite = r.weights_finite.to(DType::Float64);
  records_.push_back(std::move(r));
}

std::optional<Divergence> DivergenceGuard::check() {
  std::vector<StepRecord> records = std::move(records_);
  records_.clear();
  if (records.empty()) return std::nullopt;
  // Every recorded scalar in one tensor, read back at once.
  std::vector<Tensor> scalars;
  {
    NoGradGuard no_grad;
    for (const StepRecord& r : records) {
      for (const auto& [name, value] : r.losses) scalars.push_back(value.to(DType::Float64).reshape({1}));
      if (r.grad_norm.defined()) scalars.push_back(r.grad_norm.reshape({1}));
      if (r.weights_finite.defined()) scalars.push_back(r.weights_finite.reshape({1}));
    }
  }
  if (scalars.empty()) return std::nullopt;
  const std::vector<double> values = cat(scalars, 0).to(Device::cpu()).to_vector<double>();
  size_t next = 0;
  for (const StepRecord& r : records) {
    std::vector<std::pair<std::string, double>> losses;
    for (const auto& entry : r.losses) losses.emplace_back(entry.first, values[next++]);
    const double norm = r.grad_norm.defined() ? values[next++] : 0.0;
    const double weights = r.weights_finite.defined() ? values[next++] : 0.0;
    for (const auto& [name, v] : losses)
      if (!std::isfinite(v)) return Divergence{r.step, name + " is " + non_finite_name(v)};
    if (!std::isfinite(norm)) return Divergence{r.step, "the gradient norm is " + non_finite_name(norm)};
    if (weights != 0.0) return Divergence{r.step, "the weights hold nan or inf after its update"};
    if (spike_factor_ > 0.0)
      for (const auto& [name, v] : losses) {
        auto it = running_.find(name);
        if (it == running_.end() || it->second.second < kSpikeWarmup || it->second.first <= 0.0) continue;
        if (v > spike_factor_ * it->second.first)
          return Divergence{r.step, name + " " + number(v) + " is over " + number(spike_factor_) +
                                        " × its running mean " + number(it->second.first)};
      }
    for (const auto& [name, v] : losses) {  // a good step: the running means learn from it
      auto [it, fresh] = running_.try_emplace(name, v, 0);
      if (!fresh) it->second.first += kSpikeWeight * (v - it->second.first);
      ++it->second.second;
    }
  }
  return std::nullopt;
}

}  // namespace kiln::apps
