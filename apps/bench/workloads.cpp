#include "apps/bench/workloads.h"

#include "apps/cli_args.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "models/char_rnn.h"
#include "models/dcgan.h"
#include "models/gpt.h"
#include "models/vae.h"
#include "optim/clip.h"
#include "optim/optimizer.h"

namespace kiln::apps::bench {

const std::vector<WorkloadEntry>& workload_catalog() {
  static const std::vector<WorkloadEntry> catalog = {
      {"dcgan28", "DCGAN 28x28 (G: ConvT 100-256-128-1, D: Conv 1-64-128-1, batch norm), BCE with logits, "
                  "Adam(2e-4, betas 0.5, 0.999), one D step + one G step", ""},
      {"convvae28", "conv VAE 28x28 (Conv 1-32-64, Linear 3136-256, latent 32, mirrored decoder), "
                    "BCE with logits (sum) + KL, Adam(1e-3)", ""},
      {"charlstm", "Embedding(96, 128), LSTM 2 layers hidden 512, Linear(512, 96), cross-entropy, "
                   "clip grad norm 1.0, Adam(2e-3)", ""},
      {"gpt", "GPT vocab 65, width 384, 6 heads, pre-LayerNorm, GELU MLP x4, causal attention, cross-entropy, "
              "AdamW(1e-3), fp32 (TF32 off)", ""},
      {"gpt-bf16", "the gpt workload with matmuls and attention in bf16 (autocast), fp32 weights",
       "not available: bf16 is issue 15"},
  };
  return catalog;
}

const WorkloadEntry& find_workload(const std::string& name) {
  std::string names;
  for (const WorkloadEntry& w : workload_catalog()) {
    if (w.name == name) return w;
    names += (names.empty() ? "" : ", ") + w.name;
  }
  throw cli::UsageError("kiln bench models: unknown workload '" + name + "' (the workloads are " + names + ")");
}

// CPU sizes: chosen so that a step takes roughly 10-300 ms on a 2-core machine. Keep in step with
// SIZES in benchmarks/torch/bench_models.py (kiln compares the size words both print).
WorkloadSize workload_size(const std::string& name, Device device) {
  const bool gpu = device.is_cuda();
  if (name == "dcgan28" || name == "convvae28") return {.batch = gpu ? 128 : 16};
  if (name == "charlstm") return {.batch = gpu ? 64 : 8, .steps = gpu ? 128 : 32};
  if (name == "gpt" || name == "gpt-bf16") return {.batch = gpu ? 64 : 8, .context = gpu ? 256 : 64, .layers = gpu ? 6 : 2};
  find_workload(name);
  return {};
}

std::string size_text(const std::string& name, const WorkloadSize& s) {
  if (name == "charlstm") return "batch " + std::to_string(s.batch) + " x " + std::to_string(s.steps) + " steps";
  if (name == "gpt" || name == "gpt-bf16")
    return "batch " + std::to_string(s.batch) + " x " + std::to_string(s.context) + ", " + std::to_string(s.layers) +
           " layers";
  return "batch " + std::to_string(s.batch);
}

namespace {

int64_t count_parameters(const std::vector<Tensor>& params) {
  int64_t n = 0;
  for (const Tensor& p : params) n += p.numel();
  return n;
}

std::vector<Tensor> concat(std::vector<Tensor> a, const std::vector<Tensor>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// torch_anchors.dcgan_step_fn: z ~ N(0, 1) each step; D: BCE(D(real), 1) + BCE(D(G(z).detach()), 0);
// G: BCE(D(G(z)), 1); Adam(2e-4, (0.5, 0.999)) each; gradients set to none before each backward.
Workload dcgan28(Device dev, const WorkloadSize& s) {
  auto g = std::make_shared<models::DcganGenerator>();
  auto d = std::make_shared<models::DcganDiscriminator>();
  g->to(dev);
  d->to(dev);
  const AdamOptions betas{.beta1 = 0.5, .beta2 = 0.999};
  auto og = std::make_shared<Adam>(g->parameters(), 2e-4, betas);
  auto od = std::make_shared<Adam>(d->parameters(), 2e-4, betas);
  const int64_t bs = s.batch;
  const Tensor real = tanh(randn({bs, 1, 28, 28}, {.device = dev}));
  const Tensor ones_ = ones({bs}, {.device = dev}), zeros_ = zeros({bs}, {.device = dev});
  Workload w{.name = "dcgan28", .size = s, .parameters = count_parameters(concat(g->parameters(), d->parameters())), .step = {}};
  w.step = [=] {
    Tensor fake = g->forward(randn({bs, 100, 1, 1}, {.device = dev}));
    od->zero_grad();
    Tensor loss_d = add(binary_cross_entropy_with_logits(d->forward(real), ones_),
                        binary_cross_entropy_with_logits(d->forward(fake.detach()), zeros_));
    loss_d.backward();
    od->step();
    og->zero_grad();
    binary_cross_entropy_with_logits(d->forward(fake), ones_).backward();
    og->step();
  };
  return w;
}

// torch_anchors.vae_step_fn: z = μ + ε·exp(½ log σ²) with fresh ε each step;
// loss = BCE-with-logits(sum) − ½ Σ (1 + log σ² − μ² − σ²); Adam(1e-3). The forward is written out here
// from the model's submodules because kiln's ConvVAE::forward also clamps log σ² (an op PyTorch's
// definition does not have).
Workload convvae28(Device dev, const WorkloadSize& s) {
  auto m = std::make_shared<models::ConvVAE>();
  m->to(dev);
  auto o = std::make_shared<Adam>(m->parameters(), 1e-3);
  const int64_t bs = s.batch;
  const Tensor x = rand({bs, 1, 28, 28}, {.device = dev});
  Workload w{.name = "convvae28", .size = s, .parameters = count_parameters(m->parameters()), .step = {}};
  w.step = [=] {
    o->zero_grad();
    Tensor h = m->enc->forward(x);
    Tensor mu = m->mu->forward(h), logvar = m->lv->forward(h);
    Tensor z = add(mu, mul(randn(mu.shape(), {.device = dev}), exp(mul(logvar, 0.5))));
    Tensor logits = m->dec->forward(z);
    Tensor loss = add(binary_cross_entropy_with_logits(logits, x, Reduction::Sum), gaussian_kl(mu, logvar));
    loss.backward();
    o->step();
  };
  return w;
}

// torch_anchors.lstm_step_fn: cross-entropy over [B·T, 96], clip_grad_norm_(1.0), Adam(2e-3).
Workload charlstm(Device dev, const WorkloadSize& s) {
  const int64_t V = 96;
  auto m = std::make_shared<models::CharRNN>(models::CharRnnConfig{.vocab = V, .embed = 128, .hidden = 512, .layers = 2});
  m->to(dev);
  auto o = std::make_shared<Adam>(m->parameters(), 2e-3);
  const Tensor x = randint(0, V, {s.batch, s.steps}, {.dtype = DType::Int64, .device = dev});
  const Tensor y = randint(0, V, {s.batch, s.steps}, {.dtype = DType::Int64, .device = dev});
  Workload w{.name = "charlstm", .size = s, .parameters = count_parameters(m->parameters()), .step = {}};
  const std::vector<Tensor> params = m->parameters();
  w.step = [=] {
    o->zero_grad();
    Tensor loss = cross_entropy(m->forward(x).reshape({-1, V}), y.reshape({-1}));
    loss.backward();
    clip_grad_norm_(params, 1.0);
    o->step();
  };
  return w;
}

// torch_anchors.gpt_step_fn (amp off): cross-entropy over [B·T, 65], AdamW(1e-3) with PyTorch's
// defaults (betas 0.9, 0.999, weight decay 0.01).
Workload gpt(Device dev, const WorkloadSize& s) {
  const int64_t V = 65;
  auto m = std::make_shared<models::GPT>(
      models::GptConfig{.vocab = V, .context = s.context, .layers = s.layers, .heads = 6, .width = 384});
  m->to(dev);
  auto o = std::make_shared<AdamW>(m->parameters(), 1e-3);
  const Tensor x = randint(0, V, {s.batch, s.context}, {.dtype = DType::Int64, .device = dev});
  const Tensor y = randint(0, V, {s.batch, s.context}, {.dtype = DType::Int64, .device = dev});
  Workload w{.name = "gpt", .size = s, .parameters = count_parameters(m->parameters()), .step = {}};
  w.step = [=] {
    o->zero_grad();
    cross_entropy(m->forward(x).reshape({-1, V}), y.reshape({-1})).backward();
    o->step();
  };
  return w;
}

}  // namespace

Workload make_workload(const std::string& name, Device device) {
  const WorkloadEntry& entry = find_workload(name);
  KILN_CHECK(entry.unavailable.empty(), "kiln bench models: ", name, ": ", entry.unavailable);
  const WorkloadSize s = workload_size(name, device);
  if (name == "dcgan28") return dcgan28(device, s);
  if (name == "convvae28") return convvae28(device, s);
  if (name == "charlstm") return charlstm(device, s);
  return gpt(device, s);
}

}  // namespace kiln::apps::bench
