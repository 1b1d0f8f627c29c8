#include "core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/random.h"

namespace kiln {
namespace {

std::set<OpId>& coverage() {
  static std::set<OpId> ops;
  return ops;
}

// L = Σ_k Σ w_k · y_k, in double, without recording a graph.
double projected_loss(const MultiOutputFn& fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& weights) {
  NoGradGuard no_grad;
  std::vector<Tensor> outs = fn(inputs);
  double total = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!weights[k].defined()) continue;
    total += sum(mul(to_dtype(outs[k], DType::Float64), weights[k])).item();
  }
  return total;
}

// Offsets (in elements) of every element of t, row-major; refuses self-overlapping views.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  int64_t n = t.numel();
  offs.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = t.offset();
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      off += (rem % t.shape()[d]) * t.strides()[d];
      rem /= t.shape()[d];
    }
    offs.push_back(off);
  }
  return offs;
}

}  // namespace

const std::set<OpId>& gradcheck_coverage() { return coverage(); }

GradcheckResult gradcheck(const SingleOutputFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  return gradcheck(MultiOutputFn([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in)}; }), inputs,
                   options);
}

GradcheckResult gradcheck(const MultiOutputFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  GradcheckResult result;
  std::ostringstream msg;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    KILN_CHECK(x.dtype() == DType::Float64, "gradcheck: input ", i, " must be float64, got ", dtype_name(x.dtype()));
    KILN_CHECK(x.is_leaf(), "gradcheck: input ", i, " must be a leaf (create it with requires_grad)");
    KILN_CHECK(x.device().is_cpu(), "gradcheck: input ", i, " must be on the CPU");
    x.set_grad(Tensor());
  }

  // 1. Analytic: one backward of L = Σ w·y.
  std::vector<Tensor> outs = fn(inputs);
  Generator gen(options.seed);
  std::vector<Tensor> weights(outs.size());
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].defined() || !outs[k].requires_grad()) continue;
    visit_graph(outs[k], [](const Node& n, void* ctx) {
      if (n.op() != OpId::Count) static_cast<std::set<OpId>*>(ctx)->insert(n.op());
    }, &result.ops);
    weights[k] = randn(outs[k].shape(), {.dtype = DType::Float64}, gen);
    Tensor term = sum(mul(to_dtype(outs[k], DType::Float64), weights[k]));
    loss = loss.defined() ? add(loss, term) : term;
  }
  KILN_CHECK(loss.defined(), "gradcheck: no output requires grad (do the inputs have requires_grad?)");
  loss.backward();

  // 2. Numeric: central differences, element by element, in place on each input's memory.
  bool ok = true, any_nonzero = false;
  for (size_t i = 0; i < inputs.size() && ok; ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor analytic = x.grad().defined() ? x.grad() : zeros(x.shape(), x.options());
    std::vector<double> a = analytic.to_vector<double>();
    std::vector<int64_t> offs = element_offsets(x);
    std::set<int64_t> unique(offs.begin(), offs.end());
    KILN_CHECK(unique.size() == offs.size(), "gradcheck: input ", i, " is a view whose elements overlap (expanded?)");
    double* base = static_cast<double*>(x.storage()->data());
    for (size_t e = 0; e < offs.size(); ++e) {
      double saved = base[offs[e]];
      base[offs[e]] = saved + options.eps;
      double plus = projected_loss(fn, inputs, weights);
      base[offs[e]] = saved - options.eps;
      double minus = projected_loss(fn, inputs, weights);
      base[offs[e]] = saved;
      double numeric = (plus - minus) / (2 * options.eps);
      double err = std::fabs(a[e] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (a[e] != 0) any_nonzero = true;
      if (!(err <= options.atol + options.rtol * std::fabs(numeric))) {
        msg << "gradcheck: input " << i << " (shape " << shape_str(x.shape()) << ") element " << e << ": analytic "
            << a[e] << " vs numeric " << numeric << " (|diff| " << err << " > atol " << options.atol << " + rtol "
            << options.rtol << "·|numeric|)\n";
        ok = false;
        break;
      }
    }
  }
  if (ok && !any_nonzero && !options.allow_zero_gradient) {
    msg << "gradcheck: every analytic gradient is zero; the check would pass for a broken backward. "
           "Choose inputs with a non-zero gradient (or set allow_zero_gradient)\n";
    ok = false;
  }
  result.ok = ok;
  if (ok) {
    result.message = "ok";
    coverage().insert(result.ops.begin(), result.ops.end());
  } else {
    std::ostringstream ops;
    for (OpId op : result.ops) ops << op_name(op) << " ";
    result.message = msg.str() + "ops in the graph: " + ops.str();
  }
  return result;
}

}  // namespace kiln
