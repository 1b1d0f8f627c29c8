#include "cuda/conformance.h"

#include <cmath>
#include <sstream>

#include "core/autograd/node.h"
#include "core/random.h"

namespace kiln::test {
namespace {

// Compares two same-shape tensors (any device); appends a line to `os`.
bool compare(const std::string& name, const Tensor& cuda, const Tensor& cpu, Tolerance tol, std::ostringstream& os) {
  if (cuda.shape() != cpu.shape()) {
    os << name << ": shape " << shape_str(cuda.shape()) << " on CUDA vs " << shape_str(cpu.shape()) << " on CPU\n";
    return false;
  }
  std::vector<double> a = cuda.to_vector<double>(), b = cpu.to_vector<double>();
  double max_abs = 0, max_rel = 0;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    double diff = std::fabs(a[i] - b[i]);
    max_abs = std::max(max_abs, diff);
    if (b[i] != 0) max_rel = std::max(max_rel, diff / std::fabs(b[i]));
    if (!(diff <= tol.atol + tol.rtol * std::fabs(b[i])) && a[i] != b[i]) ok = false;
  }
  os << name << ": max |diff| " << max_abs << ", max rel " << max_rel << (ok ? "" : "  <-- exceeds tolerance") << "\n";
  return ok;
}

std::set<OpId>& coverage() {
  static std::set<OpId> ops;
  return ops;
}

}  // namespace

const std::set<OpId>& cuda_conformance_coverage() { return coverage(); }

ConformanceResult cuda_matches_cpu(const TensorFn& fn, const std::vector<Tensor>& cpu_inputs, Tolerance tol) {
  ConformanceResult r;
  std::ostringstream os;
  std::vector<Tensor> cpu_in, cuda_in;
  for (const Tensor& t : cpu_inputs) {
    if (!t.defined()) {
      cpu_in.emplace_back();
      cuda_in.emplace_back();
      continue;
    }
    bool rg = t.requires_grad();
    Tensor c = t.detach().clone(), g = t.detach().to(Device::cuda());
    if (rg) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    cpu_in.push_back(c);
    cuda_in.push_back(g);
  }
  std::vector<Tensor> cpu_out = fn(cpu_in), cuda_out = fn(cuda_in);
  if (cpu_out.size() != cuda_out.size()) {
    r.ok = false;
    r.message = "different numbers of outputs";
    return r;
  }
  std::set<OpId> ops;
  for (const Tensor& t : cuda_out)
    if (t.defined() && t.requires_grad())
      visit_graph(t, [](const Node& n, void* ctx) {
        if (n.op() != OpId::Count) static_cast<std::set<OpId>*>(ctx)->insert(n.op());
      }, &ops);
  Generator gen(4242);
  Tensor cpu_loss, cuda_loss;
  for (size_t k = 0; k < cpu_out.size(); ++k) {
    if (!cpu_out[k].defined()) continue;
    r.ok &= compare("output " + std::to_string(k), cuda_out[k], cpu_out[k], tol, os);
    if (!cpu_out[k].requires_grad() || !is_floating(cpu_out[k].dtype())) continue;
    Tensor w = randn(cpu_out[k].shape(), {.dtype = cpu_out[k].dtype()}, gen);
    // each term in float64, so that outputs of different dtypes add up into one loss
    Tensor lc = to_dtype(sum(mul(cpu_out[k], w)), DType::Float64);
    Tensor lg = to_dtype(sum(mul(cuda_out[k], w.to(Device::cuda()))), DType::Float64);
    cpu_loss = cpu_loss.defined() ? add(cpu_loss, lc) : lc;
    cuda_loss = cuda_loss.defined() ? add(cuda_loss, lg) : lg;
  }
  if (cpu_loss.defined()) {
    cpu_loss.backward();
    cuda_loss.backward();
    for (size_t i = 0; i < cpu_in.size(); ++i) {
      if (!cpu_in[i].defined() || !cpu_in[i].requires_grad()) continue;
      if (!cpu_in[i].grad().defined() || !cuda_in[i].grad().defined()) {
        r.ok &= cpu_in[i].grad().defined() == cuda_in[i].grad().defined();
        os << "gradient of input " << i << ": defined on CPU " << cpu_in[i].grad().defined() << ", on CUDA "
           << cuda_in[i].grad().defined() << "\n";
        continue;
      }
      r.ok &= compare("gradient of input " + std::to_string(i), cuda_in[i].grad(), cpu_in[i].grad(), tol, os);
    }
  }
  r.message = os.str();
  if (r.ok) coverage().insert(ops.begin(), ops.end());
  return r;
}

}  // namespace kiln::test
