// Optimizers, schedules, clipping and EMA against reference values computed in the test
// (scalar loops written out from torch.optim's update rules, plus a few literal numbers).
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>

#include "core/autograd/grad_mode.h"
#include "kiln_test.h"
#include "optim/clip.h"
#include "optim/ema.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

using namespace kiln;
using kiln::test::f64;

namespace {

using Vec = std::vector<double>;

// Fixed gradients of the 2-element parameter for steps 1, 2, 3.
const std::vector<Vec> kGrads = {{0.5, -1.0}, {0.2, 0.4}, {-0.3, 0.1}};
const Vec kP0 = {1.0, -2.0};

bool near(double a, double b) { return std::abs(a - b) <= 1e-12 + 1e-12 * std::abs(b); }

Tensor param(const Vec& v) { return f64(v, {int64_t(v.size())}, true); }

// torch.optim.SGD for one step, written out per element.
struct RefSGD {
  double lr, momentum, dampening, wd;
  bool nesterov;
  Vec buf;
  void step(Vec& p, const Vec& grad) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i] + wd * p[i];
      if (momentum != 0) {
        if (buf.size() < p.size()) buf.resize(p.size(), std::numeric_limits<double>::quiet_NaN());
        buf[i] = std::isnan(buf[i]) ? g : momentum * buf[i] + (1 - dampening) * g;
        g = nesterov ? g + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * g;
    }
  }
};

// torch.optim.Adam / AdamW for one step, written out per element.
struct RefAdam {
  double lr, b1, b2, eps, wd;
  bool amsgrad, decoupled;
  Vec m, v, vmax;
  int t = 0;
  void step(Vec& p, const Vec& grad) {
    if (m.empty()) m = v = vmax = Vec(p.size(), 0.0);
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (decoupled)
        p[i] *= 1 - lr * wd;
      else
        g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      double denom = std::sqrt(amsgrad ? vmax[i] : v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps;
      p[i] -= lr / (1 - std::pow(b1, t)) * m[i] / denom;
    }
  }
};

template <class Ref>
void check_three_steps(Optimizer& opt, const Tensor& p, Ref ref) {
  Vec expected = kP0;
  for (size_t s = 0; s < kGrads.size(); ++s) {
    p.set_grad(f64(kGrads[s], {2}));
    opt.step();
    ref.step(expected, kGrads[s]);
    INFO("step " << s + 1);
    CHECK_CLOSE(p, expected, 1e-12, 1e-12);
  }
  CHECK(opt.step_count() == 3);
  CHECK(opt.param_step(0) == 3);
}

NamedTensors snapshot(const NamedTensors& state) {
  NamedTensors out;
  for (const auto& [n, t] : state) out.emplace_back(n, t.clone());
  return out;
}

}  // namespace

TEST_CASE("SGD: first three steps match torch.optim.SGD", "[optim]") {
  SECTION("plain") {
    Tensor p = param(kP0);
    SGD opt({p}, 0.1);
    p.set_grad(f64(kGrads[0], {2}));
    opt.step();
    CHECK_CLOSE(p, Vec{0.95, -1.9}, 1e-15, 0);  // p − lr·g
    p.set_grad(f64(kGrads[1], {2}));
    opt.step();
    CHECK_CLOSE(p, Vec{0.93, -1.94}, 1e-15, 1e-15);
  }
  SECTION("momentum: the buffer starts as g, not (1 − dampening)·g") {
    Tensor p = param(kP0);
    SGD opt({p}, 0.1, {.momentum = 0.9, .dampening = 0.5});
    p.set_grad(f64(kGrads[0], {2}));
    opt.step();
    CHECK_CLOSE(p, Vec{0.95, -1.9}, 1e-15, 0);
    p.set_grad(f64(kGrads[1], {2}));
    opt.step();  // b = 0.9·[0.5, −1] + 0.5·[0.2, 0.4] = [0.55, −0.7]
    CHECK_CLOSE(p, Vec{0.895, -1.83}, 1e-15, 1e-15);
  }
  SECTION("variants against the reference loop") {
    for (SGDOptions o : {SGDOptions{}, SGDOptions{.momentum = 0.9}, SGDOptions{.momentum = 0.9, .dampening = 0.1},
                         SGDOptions{.momentum = 0.8, .nesterov = true}, SGDOptions{.weight_decay = 0.05},
                         SGDOptions{.momentum = 0.9, .weight_decay = 0.05, .nesterov = true}}) {
      INFO("momentum " << o.momentum << " dampening " << o.dampening << " wd " << o.weight_decay << " nesterov "
                       << o.nesterov);
      Tensor p = param(kP0);
      SGD opt({p}, 0.1, o);
      check_three_steps(opt, p, RefSGD{0.1, o.momentum, o.dampening, o.weight_decay, o.nesterov, {}});
    }
  }
}

TEST_CASE("Adam and AdamW: first three steps match torch.optim", "[optim]") {
  SECTION("first Adam step is lr·g/(|g| + eps)") {
    Tensor p = param(kP0);
    Adam opt({p}, 0.1);
    p.set_grad(f64(kGrads[0], {2}));
    opt.step();
    CHECK_CLOSE(p, Vec{1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)}, 1e-13, 0);
  }
  SECTION("defaults") {
    Tensor p = param(kP0);
    Adam adam({p});
    CHECK(adam.lr() == 1e-3);
    CHECK(adam.options().beta1 == 0.9);
    CHECK(adam.options().beta2 == 0.999);
    CHECK(adam.options().eps == 1e-8);
    CHECK(adam.options().weight_decay == 0.0);
    CHECK(!adam.options().amsgrad);
    AdamW adamw({p});
    CHECK(adamw.lr() == 1e-3);
    CHECK(adamw.options().weight_decay == 1e-2);
  }
  SECTION("Adam variants against the reference loop") {
    for (AdamOptions o : {AdamOptions{}, AdamOptions{.weight_decay = 0.1}, AdamOptions{.amsgrad = true},
                          AdamOptions{.beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3, .weight_decay = 0.2, .amsgrad = true}}) {
      INFO("wd " << o.weight_decay << " amsgrad " << o.amsgrad);
      Tensor p = param(kP0);
      Adam opt({p}, 0.1, o);
      check_three_steps(opt, p, RefAdam{0.1, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, false, {}, {}, {}, 0});
    }
  }
  SECTION("AdamW variants against the reference loop") {
    for (AdamOptions o : {adamw_defaults(), AdamOptions{.weight_decay = 0.3, .amsgrad = true}}) {
      INFO("wd " << o.weight_decay << " amsgrad " << o.amsgrad);
      Tensor p = param(kP0);
      AdamW opt({p}, 0.1, o);
      check_three_steps(opt, p, RefAdam{0.1, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, true, {}, {}, {}, 0});
    }
  }
  SECTION("float32 parameters") {
    Tensor p = from_vector(std::vector<float>{1.0f, -2.0f}, {2}, {.requires_grad = true});
    AdamW opt({p}, 0.1, {.weight_decay = 0.1, .amsgrad = true});
    RefAdam ref{0.1, 0.9, 0.999, 1e-8, 0.1, true, true, {}, {}, {}, 0};
    Vec expected = kP0;
    for (const Vec& g : kGrads) {
      p.set_grad(from_vector(std::vector<float>{float(g[0]), float(g[1])}, {2}));
      opt.step();
      ref.step(expected, g);
    }
    CHECK(p.dtype() == DType::Float32);
    CHECK_CLOSE(p, expected, 1e-6, 1e-6);
  }
  SECTION("amsgrad keeps the largest second moment") {
    // |g| falls, so v falls after step 1 and v̂ stays above it: amsgrad steps are smaller.
    Tensor p1 = param({1.0}), p2 = param({1.0});
    Adam plain({p1}, 0.1, {.beta2 = 0.5}), ams({p2}, 0.1, {.beta2 = 0.5, .amsgrad = true});
    for (double g : {10.0, 0.1, 0.1}) {
      p1.set_grad(f64({g}, {1}));
      p2.set_grad(f64({g}, {1}));
      plain.step();
      ams.step();
    }
    CHECK(p2.item() > p1.item());
  }
}

TEST_CASE("optimizers minimize a quadratic", "[optim]") {
  auto run = [](Optimizer& opt, const Tensor& p, int steps, const LrSchedule* schedule = nullptr) {
    for (int s = 0; s < steps; ++s) {
      if (schedule) schedule->apply(opt, s);
      opt.zero_grad();
      Tensor loss = sum(square(p));
      loss.backward();
      opt.step();
    }
    return sum(square(p)).item();
  };
  {
    Tensor p = param({1.0, -2.0, 3.0});
    SGD opt({p}, 0.1, {.momentum = 0.9, .nesterov = true});
    CHECK(run(opt, p, 200, nullptr) < 1e-12);
  }
  {
    Tensor p = param({1.0, -2.0, 3.0});
    Adam opt({p}, 0.1);
    CosineWarmupLR schedule(0.1, 10, 1000, 0.0);
    CHECK(run(opt, p, 1000, &schedule) < 1e-6);
  }
  {
    Tensor p = param({1.0, -2.0, 3.0});
    AdamW opt({p}, 0.1, {.weight_decay = 0.01, .amsgrad = true});
    CosineWarmupLR schedule(0.1, 10, 1000, 0.0);
    CHECK(run(opt, p, 1000, &schedule) < 1e-6);
  }
}

TEST_CASE("optimizers skip parameters without a gradient", "[optim]") {
  Tensor a = param({1.0, 2.0}), b = param({3.0, 4.0});
  std::vector<std::unique_ptr<Optimizer>> opts;
  opts.push_back(std::make_unique<SGD>(std::vector<Tensor>{a, b}, 0.1, SGDOptions{.momentum = 0.9, .weight_decay = 0.1}));
  opts.push_back(std::make_unique<Adam>(std::vector<Tensor>{a, b}, 0.1, AdamOptions{.weight_decay = 0.1}));
  opts.push_back(std::make_unique<AdamW>(std::vector<Tensor>{a, b}, 0.1));
  for (auto& opt : opts) {
    a.set_grad(f64({1.0, 1.0}, {2}));
    opt->step();
    opt->step();
    CHECK_CLOSE(b, Vec{3.0, 4.0}, 0, 0);
    CHECK(opt->param_step(0) == 2);
    CHECK(opt->param_step(1) == 0);
    for (const auto& [name, t] : opt->state_tensors()) CHECK(name.rfind("param.1.", 0) == std::string::npos);
  }
  opts[0]->zero_grad();
  CHECK(!a.grad().defined());
  CHECK(!b.grad().defined());
}

TEST_CASE("optimizer state saves and loads, continuing identically", "[optim]") {
  auto make = [](int kind, std::vector<Tensor> ps) -> std::unique_ptr<Optimizer> {
    if (kind == 0) return std::make_unique<SGD>(ps, 0.1, SGDOptions{.momentum = 0.9, .nesterov = true});
    if (kind == 1) return std::make_unique<Adam>(ps, 0.1, AdamOptions{.amsgrad = true});
    return std::make_unique<AdamW>(ps, 0.05);
  };
  for (int kind = 0; kind < 3; ++kind) {
    INFO("optimizer kind " << kind);
    Tensor p = param(kP0);
    auto opt = make(kind, {p});
    for (int s = 0; s < 2; ++s) {
      p.set_grad(f64(kGrads[s], {2}));
      opt->step();
    }
    opt->set_lr(0.07);
    NamedTensors saved = snapshot(opt->state_tensors());
    Tensor q = param(p.to_vector<double>());
    auto restored = make(kind, {q});
    restored->load_state_tensors(saved);
    CHECK(restored->lr() == 0.07);
    CHECK(restored->step_count() == 2);
    CHECK(restored->param_step(0) == 2);
    for (int s = 2; s < 5; ++s) {
      p.set_grad(f64(kGrads[s % 3], {2}));
      q.set_grad(f64(kGrads[s % 3], {2}));
      opt->step();
      restored->step();
      CHECK_CLOSE(q, p, 0, 0);
    }
    CHECK_THROWS_WITH_TEXT(restored->load_state_tensors({{"param.0.bogus", p}}), "unknown state");
    CHECK_THROWS_WITH_TEXT(restored->load_state_tensors({{"param.3.step", p}}), "names parameter 3");
  }
  Tensor p = param(kP0);
  Adam opt({p});
  CHECK_THROWS_WITH_TEXT(opt.load_state_tensors({{"param.0.exp_avg", f64({1, 2, 3}, {3})}}), "has shape [3]");
}

TEST_CASE("optimizer and EMA states from a damaged file are refused, naming the entry", "[optim]") {
  // A saved Adam state after two steps of two parameters, as a checkpoint holds it.
  Tensor p = param(kP0), q = param({3.0, 4.0});
  Adam adam({p, q}, 0.1);
  for (int s = 0; s < 2; ++s) {
    p.set_grad(f64(kGrads[s], {2}));
    q.set_grad(f64(kGrads[s], {2}));
    adam.step();
  }
  const NamedTensors good = snapshot(adam.state_tensors());
  auto without = [&](const std::string& key) {
    NamedTensors out;
    for (const auto& [name, t] : good)
      if (name != key) out.emplace_back(name, t);
    return out;
  };
  auto with = [&](const std::string& key, Tensor value) {
    NamedTensors out = without(key);
    out.emplace_back(key, value);
    return out;
  };
  auto f64_scalar = [](double v) { return f64({v}, {}); };
  Tensor r = param(kP0), u = param({3.0, 4.0});
  Adam fresh({r, u}, 0.5);
  const double inf = std::numeric_limits<double>::infinity();

  // A step count is a whole number in range: Inf, NaN, negative and fractional ones are refused
  // (converting them to an integer would be undefined behaviour).
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.1.step", f64_scalar(inf))),
                         "'param.1.step' is inf, not a whole number from 0 to 2^53");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.1.step", f64_scalar(std::nan("")))), "'param.1.step' is nan");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.1.step", f64_scalar(-1))), "'param.1.step' is -1");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.1.step", f64_scalar(1.5))), "'param.1.step' is 1.5");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("step_count", f64_scalar(1e300))), "'step_count' is 1e+300");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("lr", f64_scalar(inf))), "'lr' is inf, not a finite number");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("lr", f64({0.1, 0.2}, {2}))), "'lr' must be a one-element tensor");
  // A parameter index of any length gives a message, not "stoul".
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.12345678901234567890123.step", f64_scalar(1))),
                         "'param.12345678901234567890123.step' names parameter 12345678901234567890123 but there are 2 parameters");
  // A missing entry is named: the rate, the step count, a buffer or the step of an updated parameter.
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(without("lr")), "the state lacks 'lr'");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(without("step_count")), "the state lacks 'step_count'");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(without("param.1.exp_avg_sq")),
                         "the state lacks 'param.1.exp_avg_sq' (parameter 1 was updated 2 times)");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(without("param.0.step")), "has 'param.0.exp_avg' but lacks 'param.0.step'");
  CHECK_THROWS_WITH_TEXT(fresh.load_state_tensors(with("param.0.step", f64_scalar(3))),
                         "'param.0.step' is 3, more than the optimizer's 'step_count' 2");
  // A refused state changes nothing; the complete one loads.
  CHECK(fresh.lr() == 0.5);
  CHECK(fresh.step_count() == 0);
  CHECK(fresh.param_step(1) == 0);
  fresh.load_state_tensors(good);
  CHECK(fresh.step_count() == 2);
  CHECK(fresh.param_step(1) == 2);
  // A parameter never updated has neither step nor buffers: that state is complete (SGD keeps no buffer
  // without momentum).
  SGD plain({param(kP0)}, 0.1);
  plain.load_state_tensors({{"lr", f64_scalar(0.1)}, {"step_count", f64_scalar(4)}, {"param.0.step", f64_scalar(4)}});
  CHECK(plain.param_step(0) == 4);
  SGD momentum({param(kP0)}, 0.1, {.momentum = 0.9});
  CHECK_THROWS_WITH_TEXT(momentum.load_state_tensors({{"lr", f64_scalar(0.1)}, {"step_count", f64_scalar(4)},
                                                      {"param.0.step", f64_scalar(4)}}),
                         "the state lacks 'param.0.momentum_buffer'");

  // The EMA's state likewise.
  EMA ema({param(kP0)}, 0.9);
  const NamedTensors ema_state = snapshot(ema.state_tensors());
  auto ema_with = [&](const std::string& key, Tensor value) {
    NamedTensors out;
    for (const auto& [name, t] : ema_state)
      if (name != key) out.emplace_back(name, t);
    if (value.defined()) out.emplace_back(key, value);
    return out;
  };
  CHECK_THROWS_WITH_TEXT(ema.load_state_tensors(ema_with("num_updates", f64_scalar(inf))), "'num_updates' is inf");
  CHECK_THROWS_WITH_TEXT(ema.load_state_tensors(ema_with("num_updates", Tensor())), "'num_updates' is missing");
  CHECK_THROWS_WITH_TEXT(ema.load_state_tensors(ema_with("decay", f64_scalar(std::nan("")))), "'decay' is nan");
  CHECK_THROWS_WITH_TEXT(ema.load_state_tensors(ema_with("shadow.99999999999999999999999", f64({1, 2}, {2}))),
                         "'shadow.99999999999999999999999' names tensor 99999999999999999999999 but there are 1 tensors");
}

TEST_CASE("optimizer argument errors", "[optim]") {
  Tensor p = param(kP0);
  CHECK_THROWS_WITH_TEXT(SGD({p}, -1.0), "invalid learning rate");
  CHECK_THROWS_WITH_TEXT(SGD({p}, 0.1, {.momentum = 0.0, .nesterov = true}), "nesterov");
  CHECK_THROWS_WITH_TEXT(Adam({p}, 0.1, {.beta1 = 1.0}), "invalid beta1");
  CHECK_THROWS_WITH_TEXT(SGD({mul(p, 2.0)}, 0.1), "not a leaf");
  CHECK_THROWS_WITH_TEXT(SGD({p, p}, 0.1), "appears twice");
}

TEST_CASE("learning-rate schedules", "[optim]") {
  ConstantLR c(0.3);
  CHECK(c.lr_at(0) == 0.3);
  CHECK(c.lr_at(12345) == 0.3);

  StepLR s(1.0, 3, 0.5);
  CHECK(s.lr_at(0) == 1.0);
  CHECK(s.lr_at(2) == 1.0);
  CHECK(s.lr_at(3) == 0.5);
  CHECK(s.lr_at(5) == 0.5);
  CHECK(s.lr_at(6) == 0.25);
  CHECK(near(StepLR(2.0, 10).lr_at(25), 0.02));

  CosineWarmupLR w(1.0, 10, 110, 0.1);
  CHECK(w.lr_at(0) == 0.0);
  CHECK(near(w.lr_at(5), 0.5));
  CHECK(near(w.lr_at(10), 1.0));
  CHECK(near(w.lr_at(35), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(near(w.lr_at(60), 0.55));
  CHECK(near(w.lr_at(110), 0.1));
  CHECK(near(w.lr_at(500), 0.1));
  CHECK(near(CosineWarmupLR(1.0, 0, 100).lr_at(0), 1.0));

  Tensor p = param(kP0);
  SGD opt({p}, 1.0);
  CHECK(near(w.apply(opt, 5), 0.5));
  CHECK(near(opt.lr(), 0.5));

  CHECK_THROWS_WITH_TEXT(StepLR(1.0, 0), "step_size");
  CHECK_THROWS_WITH_TEXT(CosineWarmupLR(1.0, 10, 5), "total_steps");
}

TEST_CASE("clip_grad_norm_", "[optim]") {
  Tensor a = param({0.0, 0.0}), b = param({0.0}), c = param({0.0});
  auto set = [&] {
    a.set_grad(f64({3.0, 4.0}, {2}));
    b.set_grad(f64({-12.0}, {1}));
  };
  SECTION("L2: clips to max_norm") {
    set();
    Tensor total = clip_grad_norm_({a, b, c}, 6.5);
    CHECK(total.dim() == 0);
    CHECK(near(total.item(), 13.0));
    double coef = 6.5 / (13.0 + 1e-6);
    CHECK_CLOSE(a.grad(), Vec{3.0 * coef, 4.0 * coef}, 1e-12, 1e-12);
    CHECK_CLOSE(b.grad(), Vec{-12.0 * coef}, 1e-12, 1e-12);
    CHECK(!c.grad().defined());
  }
  SECTION("no clipping when the norm is below max_norm") {
    set();
    Tensor total = clip_grad_norm_({a, b, c}, 100.0);
    CHECK(near(total.item(), 13.0));
    CHECK_CLOSE(a.grad(), Vec{3.0, 4.0}, 0, 0);
    CHECK_CLOSE(b.grad(), Vec{-12.0}, 0, 0);
  }
  SECTION("other norms") {
    set();
    CHECK(near(clip_grad_norm_({a, b}, 100.0, 1.0).item(), 19.0));
    CHECK(near(clip_grad_norm_({a, b}, 100.0, std::numeric_limits<double>::infinity()).item(), 12.0));
    CHECK(near(clip_grad_norm_({a, b}, 100.0, 3.0).item(), std::cbrt(27.0 + 64.0 + 1728.0)));
    Tensor total = clip_grad_norm_({a, b}, 6.0, std::numeric_limits<double>::infinity());
    CHECK_CLOSE(b.grad(), Vec{-12.0 * 6.0 / (12.0 + 1e-6)}, 1e-12, 1e-12);
  }
  SECTION("no gradients") { CHECK(clip_grad_norm_({c}, 1.0).item() == 0.0); }
}

TEST_CASE("EMA of weights", "[optim]") {
  Tensor p = param({1.0, 2.0});
  EMA ema({p}, 0.9);
  {
    NoGradGuard g;
    p.copy_(f64({2.0, 4.0}, {2}));
  }
  ema.update({p});
  CHECK_CLOSE(ema.shadow()[0], Vec{1.1, 2.2}, 1e-14, 1e-14);
  {
    NoGradGuard g;
    p.zero_();
  }
  ema.update({p});
  CHECK_CLOSE(ema.shadow()[0], Vec{0.99, 1.98}, 1e-14, 1e-14);
  CHECK(ema.num_updates() == 2);

  EMA other({param({0.0, 0.0})}, 0.5);
  other.load_state_tensors(snapshot(ema.state_tensors()));
  CHECK(other.decay() == 0.9);
  CHECK(other.num_updates() == 2);
  CHECK_CLOSE(other.shadow()[0], ema.shadow()[0], 0, 0);

  ema.copy_to({p});
  CHECK_CLOSE(p, Vec{0.99, 1.98}, 1e-14, 1e-14);
  CHECK(p.requires_grad());
  CHECK_THROWS_WITH_TEXT(ema.update({p, p}), "got 2 parameters");
  CHECK_THROWS_WITH_TEXT(other.load_state_tensors({{"decay", f64({0.5}, {})}}), "'shadow.0' is missing");
}
