// The fused optimizer step (one kernel call per (device, dtype) group) against a straightforward
// per-tensor, per-element reference written here from torch.optim's update rules: many steps, mixed
// shapes (scalars, empty tensors), parameters without a gradient on some steps (so step counts differ),
// non-contiguous gradients, float32 and float64 parameters in one optimizer; and the fused EMA.
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>

#include "core/autograd/grad_mode.h"
#include "core/storage.h"
#include "kiln_test.h"
#include "optim/ema.h"
#include "optim/optimizer.h"

using namespace kiln;
using kiln::test::f64;
using kiln::test::random_input;

namespace {

enum class Kind { Sgd, Adam, AdamW };
struct Config {
  Kind kind;
  SGDOptions sgd;
  AdamOptions adam;
};

// One parameter of the reference: its values and state, in the parameter's dtype T.
template <class T>
struct RefParam {
  std::vector<T> p, buf, m, v, vmax;
  int64_t step = 0;
  bool has_buf = false;

  void sgd(const std::vector<T>& grad, double lr, const SGDOptions& o) {
    ++step;
    if (o.momentum != 0 && !has_buf) buf.assign(p.size(), T(0));
    for (size_t j = 0; j < p.size(); ++j) {
      T g = grad[j];
      if (o.weight_decay != 0) g = g + T(o.weight_decay) * p[j];
      if (o.momentum != 0) {
        buf[j] = has_buf ? T(o.momentum) * buf[j] + T(1 - o.dampening) * g : g;  // first step: a clone of g
        g = o.nesterov ? g + T(o.momentum) * buf[j] : buf[j];
      }
      p[j] = p[j] - T(lr) * g;
    }
    if (o.momentum != 0) has_buf = true;
  }

  void adam(const std::vector<T>& grad, double lr, const AdamOptions& o, bool decoupled) {
    ++step;
    if (m.empty()) m = v = vmax = std::vector<T>(p.size(), T(0));
    const double step_size = lr / (1 - std::pow(o.beta1, double(step)));
    const double bc2_sqrt = std::sqrt(1 - std::pow(o.beta2, double(step)));
    for (size_t j = 0; j < p.size(); ++j) {
      T g = grad[j];
      if (decoupled)
        p[j] = p[j] * T(1 - lr * o.weight_decay);
      else if (o.weight_decay != 0)
        g = g + T(o.weight_decay) * p[j];
      m[j] = T(o.beta1) * m[j] + T(1 - o.beta1) * g;
      v[j] = T(o.beta2) * v[j] + T(1 - o.beta2) * g * g;
      T second = v[j];
      if (o.amsgrad) second = vmax[j] = std::max(vmax[j], v[j]);
      const T denom = T(std::sqrt(second)) / T(bc2_sqrt) + T(o.eps);
      p[j] = p[j] - T(step_size) * m[j] / denom;
    }
  }

  void step_with(const Config& c, const std::vector<T>& grad, double lr) {
    if (c.kind == Kind::Sgd)
      sgd(grad, lr, c.sgd);
    else
      adam(grad, lr, c.adam, c.kind == Kind::AdamW);
  }
};

struct Ref {
  bool f32;
  RefParam<double> d;
  RefParam<float> f;
};

std::unique_ptr<Optimizer> make(const Config& c, std::vector<Tensor> params, double lr) {
  if (c.kind == Kind::Sgd) return std::make_unique<SGD>(std::move(params), lr, c.sgd);
  if (c.kind == Kind::Adam) return std::make_unique<Adam>(std::move(params), lr, c.adam);
  return std::make_unique<AdamW>(std::move(params), lr, c.adam);
}

Tensor state_of(const Optimizer& opt, const std::string& name) {
  for (const auto& [n, t] : opt.state_tensors())
    if (n == name) return t;
  return Tensor();
}

const std::vector<Shape> kShapes = {{3, 4}, {7}, {}, {2, 3, 5}, {0, 3}, {1}, {5, 1, 2}, {4, 3}};

// float64: both sides evaluate the same expressions in the same order, so they agree to rounding at most.
constexpr double kF64Tol = 1e-14;
// float32 parameters: the reference computes in float too, in the same order.
constexpr double kF32Tol = 1e-6;

template <class T>
void check_param(const Tensor& actual, const std::vector<T>& expected, double tol) {
  CHECK_CLOSE(actual, std::vector<double>(expected.begin(), expected.end()), tol, tol);
}

// Runs the optimizer and the reference side by side for 12 steps and compares parameters and state.
void run_against_reference(const Config& c, bool mixed_dtypes) {
  std::vector<Tensor> params;
  std::vector<Ref> refs(kShapes.size());
  for (size_t k = 0; k < kShapes.size(); ++k) {
    refs[k].f32 = mixed_dtypes && k % 2 == 1;
    Tensor p = random_input(kShapes[k], 100 + k).detach();
    if (refs[k].f32) {
      p = p.to(DType::Float32);
      refs[k].f.p = p.to_vector<float>();
    } else {
      refs[k].d.p = p.to_vector<double>();
    }
    p.requires_grad_();
    params.push_back(p);
  }
  auto opt = make(c, params, 0.05);
  uint64_t seed = 1000;
  for (int s = 0; s < 12; ++s) {
    const double lr = 0.05 * (1.0 + 0.1 * s);  // a schedule: the scalars change every step
    opt->set_lr(lr);
    for (size_t k = 0; k < params.size(); ++k) {
      if ((3 * s + int(k)) % 4 == 0) {  // no gradient for this parameter on this step
        params[k].set_grad(Tensor());
        continue;
      }
      const Shape& shape = kShapes[k];
      Tensor g;
      if (shape.size() == 2 && s % 2 == 1 && !refs[k].f32)
        g = random_input({shape[1], shape[0]}, ++seed).detach().t();  // a non-contiguous gradient
      else
        g = random_input(shape, ++seed).detach();
      if (refs[k].f32) g = g.to(DType::Float32);
      params[k].set_grad(g);
      if (refs[k].f32)
        refs[k].f.step_with(c, g.to_vector<float>(), lr);
      else
        refs[k].d.step_with(c, g.to_vector<double>(), lr);
    }
    opt->step();
    for (size_t k = 0; k < params.size(); ++k) {
      INFO("step " << s + 1 << " parameter " << k << " shape " << shape_str(kShapes[k]));
      if (refs[k].f32)
        check_param(params[k], refs[k].f.p, kF32Tol);
      else
        check_param(params[k], refs[k].d.p, kF64Tol);
    }
  }
  CHECK(opt->step_count() == 12);
  for (size_t k = 0; k < params.size(); ++k) {
    INFO("parameter " << k);
    const std::string prefix = "param." + std::to_string(k) + ".";
    auto check_state = [&](const char* name, const auto& expected, double tol) {
      INFO("state " << name);
      Tensor t = state_of(*opt, prefix + name);
      REQUIRE(t.defined());
      check_param(t, expected, tol);
    };
    auto check_all = [&](const auto& r, double tol) {
      CHECK(opt->param_step(k) == r.step);
      if (c.kind == Kind::Sgd) {
        if (c.sgd.momentum != 0) check_state("momentum_buffer", r.buf, tol);
        CHECK(state_of(*opt, prefix + "exp_avg").defined() == false);
      } else {
        check_state("exp_avg", r.m, tol);
        check_state("exp_avg_sq", r.v, tol);
        if (c.adam.amsgrad) check_state("max_exp_avg_sq", r.vmax, tol);
        CHECK(state_of(*opt, prefix + "max_exp_avg_sq").defined() == c.adam.amsgrad);
      }
    };
    if (refs[k].f32)
      check_all(refs[k].f, kF32Tol);
    else
      check_all(refs[k].d, kF64Tol);
  }
}

const std::vector<Config> kConfigs = {
    {Kind::Sgd, {}, {}},
    {Kind::Sgd, {.momentum = 0.9}, {}},
    {Kind::Sgd, {.momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01}, {}},
    {Kind::Sgd, {.momentum = 0.8, .weight_decay = 0.05, .nesterov = true}, {}},
    {Kind::Sgd, {.weight_decay = 0.1}, {}},
    {Kind::Adam, {}, {}},
    {Kind::Adam, {}, {.weight_decay = 0.1}},
    {Kind::Adam, {}, {.beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3, .weight_decay = 0.02, .amsgrad = true}},
    {Kind::AdamW, {}, adamw_defaults()},
    {Kind::AdamW, {}, {.beta1 = 0.3, .beta2 = 0.6, .weight_decay = 0.2, .amsgrad = true}},
};

std::string describe(const Config& c) {
  std::ostringstream os;
  if (c.kind == Kind::Sgd)
    os << "SGD momentum " << c.sgd.momentum << " dampening " << c.sgd.dampening << " wd " << c.sgd.weight_decay
       << " nesterov " << c.sgd.nesterov;
  else
    os << (c.kind == Kind::Adam ? "Adam" : "AdamW") << " betas " << c.adam.beta1 << "," << c.adam.beta2 << " eps "
       << c.adam.eps << " wd " << c.adam.weight_decay << " amsgrad " << c.adam.amsgrad;
  return os.str();
}

}  // namespace

TEST_CASE("fused optimizer step equals a per-tensor reference over many steps (float64)", "[optim]") {
  for (const Config& c : kConfigs) {
    INFO(describe(c));
    run_against_reference(c, false);
  }
}

TEST_CASE("fused optimizer step with float32 and float64 parameters in one optimizer", "[optim]") {
  for (const Config& c : kConfigs) {
    INFO(describe(c));
    run_against_reference(c, true);
  }
}

TEST_CASE("fused optimizer step: conversions, versions and errors", "[optim]") {
  SECTION("a float32 gradient of a float64 parameter is converted") {
    Tensor p = f64({1.0, -2.0}, {2}, true), q = f64({1.0, -2.0}, {2}, true);
    Adam a({p}, 0.1), b({q}, 0.1);
    p.set_grad(from_vector(std::vector<float>{0.25f, -0.5f}, {2}));
    q.set_grad(f64({0.25, -0.5}, {2}));
    a.step();
    b.step();
    CHECK_CLOSE(p, q, 0, 0);
  }
  SECTION("the update bumps the version of the parameter (autograd sees the in-place change)") {
    Tensor p = f64({1.0, -2.0}, {2}, true);
    SGD opt({p}, 0.1, {.momentum = 0.9});
    p.set_grad(f64({0.5, 0.5}, {2}));
    const uint64_t before = p.storage()->version();
    opt.step();
    CHECK(p.storage()->version() > before);
  }
  SECTION("a non-contiguous parameter is refused with a message") {
    Tensor base = random_input({3, 4}, 7).detach();
    Tensor p = base.t().detach();
    p.requires_grad_();
    REQUIRE(!p.is_contiguous());
    SGD opt({p}, 0.1);
    p.set_grad(zeros({4, 3}, {.dtype = DType::Float64}));
    CHECK_THROWS_WITH_TEXT(opt.step(), "not contiguous");
    CHECK(opt.param_step(0) == 0);
  }
  SECTION("without weight decay an infinite parameter stays infinite (no 0·inf = NaN)") {
    Tensor p = f64({INFINITY, 1.0}, {2}, true);
    SGD opt({p}, 0.1);
    p.set_grad(f64({1.0, 1.0}, {2}));
    opt.step();
    CHECK(std::isinf(p.to_vector<double>()[0]));
  }
}

TEST_CASE("fused EMA equals torch.lerp(ema, p, 1 − decay) per tensor", "[optim]") {
  const std::vector<Shape> shapes = {{3, 4}, {}, {0}, {5}, {2, 2, 3}};
  for (double decay : {0.0, 0.37, 0.9, 0.999, 1.0}) {
    INFO("decay " << decay);
    std::vector<Tensor> params;
    for (size_t k = 0; k < shapes.size(); ++k) {
      Tensor p = random_input(shapes[k], 300 + k).detach();
      if (k % 2 == 1) p = p.to(DType::Float32);  // two groups: float64 and float32
      params.push_back(p);
    }
    EMA ema(params, decay);
    std::vector<std::vector<double>> ref;
    for (const Tensor& p : params) ref.push_back(p.to_vector<double>());
    for (int s = 0; s < 5; ++s) {
      for (size_t k = 0; k < params.size(); ++k) {
        NoGradGuard no_grad;
        params[k].copy_(random_input(shapes[k], 400 + 10 * s + k));
        std::vector<double> p = params[k].to_vector<double>();
        for (size_t j = 0; j < p.size(); ++j) {
          if (k % 2 == 1) {  // float32: lerp in float with the weight cast to float
            const float a = float(ref[k][j]), b = float(p[j]), w = float(1.0 - decay);
            ref[k][j] = w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
          } else {
            const double a = ref[k][j], b = p[j], w = 1.0 - decay;
            ref[k][j] = w < 0.5 ? a + w * (b - a) : b - (b - a) * (1.0 - w);
          }
        }
      }
      ema.update(params);
    }
    for (size_t k = 0; k < params.size(); ++k) {
      INFO("tensor " << k);
      CHECK(ema.shadow()[k].dtype() == params[k].dtype());
      CHECK_CLOSE(ema.shadow()[k], ref[k], k % 2 == 1 ? 1e-6 : 1e-14, k % 2 == 1 ? 1e-6 : 1e-14);
      if (decay == 0.0) CHECK_CLOSE(ema.shadow()[k], params[k], 0, 0);  // w = 1: exactly p
    }
  }
}
