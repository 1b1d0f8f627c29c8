// Golden equivalence of every model with PyTorch: tests/golden/golden_models.py writes each model of
// models/ again in PyTorch with the same parameter names, in a tiny configuration, and stores its
// weights, inputs, outputs, loss, every gradient and the losses of 5 steps of the model's trainer's
// optimizer (tests/golden/models.safetensors). Each case runs in every configuration of golden_configs()
// (float64 and float32 on the CPU, float32 on CUDA where a GPU is visible). The configurations below
// are the script's; keep the two in step.
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/ops/ops.h"
#include "core/random.h"
#include "golden_harness.h"
#include "models/char_rnn.h"
#include "models/classifier.h"
#include "models/dcgan.h"
#include "models/gpt.h"
#include "models/rnn_vae.h"
#include "models/vae.h"
#include "optim/clip.h"
#include "optim/optimizer.h"

using namespace kiln;
using namespace kiln::models;
using kiln::test::GoldenConfig;
using kiln::test::GoldenFile;
using kiln::test::GoldenReport;

namespace {

constexpr int kSteps = 5;

const GoldenFile& golden() {
  static const GoldenFile file("models.safetensors");
  return file;
}

const Tensor& expected(const std::string& name) { return golden().raw(name); }

// The models draw their initial weights from this generator, not the default one (the weights are
// replaced by PyTorch's; other tests' random draws stay as they were).
Generator& init() {
  static Generator generator(0);
  return generator;
}

TensorOptions options_of(const GoldenConfig& config) { return {.dtype = config.dtype, .device = config.device}; }

// Every parameter's gradient against "<prefix>.grad.<name>".
void check_parameter_grads(GoldenReport& report, const Module& m, const std::string& prefix) {
  for (const auto& [name, p] : m.named_parameters()) {
    INFO("parameter " << name);
    REQUIRE(p.grad().defined());
    CHECK_GOLDEN(report, "grad." + name, p.grad(), expected(prefix + ".grad." + name));
  }
}

// kSteps steps as the trainers take them: loss = loss_at(step) ; zero_grad ; backward ; clip (when
// clip > 0) ; step. Returns the losses [kSteps] and the gradient norms before clipping (when clipping).
struct Steps {
  Tensor losses, norms;
};
Steps train_steps(Optimizer& optimizer, const std::function<Tensor(int)>& loss_at, double clip = 0.0) {
  std::vector<double> losses, norms;
  for (int step = 1; step <= kSteps; ++step) {
    Tensor loss = loss_at(step);
    optimizer.zero_grad();
    loss.backward();
    if (clip > 0.0) norms.push_back(clip_grad_norm_(optimizer.params(), clip).item());
    optimizer.step();
    losses.push_back(loss.item());
  }
  Steps s;
  s.losses = from_vector(losses, {kSteps}, {.dtype = DType::Float64});
  if (clip > 0.0) s.norms = from_vector(norms, {kSteps}, {.dtype = DType::Float64});
  return s;
}

// Cross-entropy of logits [B, T, V] against targets [B, T], as apps/train_lm.cpp computes it.
Tensor sequence_cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {}) {
  return cross_entropy(logits.reshape({-1, logits.size(2)}), targets.reshape({-1}), options);
}

// A language model (char-RNN, GPT) of case `c`: the logits of "<c>.ids", their cross-entropy with
// "<c>.targets", every gradient, and the losses of kSteps steps of the trainer's optimizer (made by
// make_optimizer from the parameters), with the gradient norms when the trainer clips.
template <class Model, class ModelConfig, class MakeOptimizer>
void check_language_model(const std::string& c, const ModelConfig& tiny, MakeOptimizer make_optimizer,
                          double clip = 0.0) {
  for (const GoldenConfig& config : test::golden_configs()) {
    GoldenReport report(c, config);
    Model model(tiny, init());
    golden().load_weights(model, c, config);
    Tensor ids = golden().get(c + ".ids", config), targets = golden().get(c + ".targets", config);
    Tensor logits = model.forward(ids);
    CHECK_GOLDEN(report, "output", logits, expected(c + ".output"));
    Tensor loss = sequence_cross_entropy(logits, targets);
    CHECK_GOLDEN(report, "loss", loss, expected(c + ".loss"));
    loss.backward();
    check_parameter_grads(report, model, c);

    Model trained(tiny, init());
    golden().load_weights(trained, c, config);
    auto optimizer = make_optimizer(trained.parameters());
    Steps steps = train_steps(
        *optimizer, [&](int) { return sequence_cross_entropy(trained.forward(ids), targets); }, clip);
    if (clip > 0.0) CHECK_GOLDEN(report, "grad_norms", steps.norms, expected(c + ".grad_norms"));
    CHECK_GOLDEN(report, "losses", steps.losses, expected(c + ".losses"));
  }
}

// ---------------------------------------------------------------- DCGAN

// apps/train_dcgan.cpp's step on the batch `real` and noise z: fake = G(z) ; D step on
// BCE(D(real), 1) + BCE(D(fake.detach()), 0) ; G step on BCE(D(fake), 1), both with Adam(2e-4, (0.5, 0.999)).
void check_dcgan(const std::string& c, const DcganConfig& dcgan, bool has_grad_real) {
  for (const GoldenConfig& config : test::golden_configs()) {
    GoldenReport report(c, config);
    DcganGenerator g(dcgan, init());
    DcganDiscriminator d(dcgan, init());
    golden().load_weights(g, c + ".G", config);
    golden().load_weights(d, c + ".D", config);
    Tensor z = golden().get(c + ".z", config, true), real = golden().get(c + ".real", config, true);
    const int64_t n = real.size(0);
    const Tensor ones = full({n}, 1.0, options_of(config)), zeros_ = zeros({n}, options_of(config));

    Tensor fake = g.forward(z);
    CHECK_GOLDEN(report, "fake", fake, expected(c + ".fake"));
    Tensor d_real = d.forward(real), d_fake = d.forward(fake.detach());
    CHECK_GOLDEN(report, "d_real", d_real, expected(c + ".d_real"));
    CHECK_GOLDEN(report, "d_fake", d_fake, expected(c + ".d_fake"));
    Tensor loss_d =
        add(binary_cross_entropy_with_logits(d_real, ones), binary_cross_entropy_with_logits(d_fake, zeros_));
    CHECK_GOLDEN(report, "loss_d", loss_d, expected(c + ".loss_d"));
    loss_d.backward();
    check_parameter_grads(report, d, c + ".D");
    if (has_grad_real) CHECK_GOLDEN(report, "grad.real", real.grad(), expected(c + ".grad.real"));
    d.zero_grad();
    Tensor loss_g = binary_cross_entropy_with_logits(d.forward(fake), ones);
    CHECK_GOLDEN(report, "loss_g", loss_g, expected(c + ".loss_g"));
    loss_g.backward();
    check_parameter_grads(report, g, c + ".G");
    CHECK_GOLDEN(report, "grad.z", z.grad(), expected(c + ".grad.z"));

    DcganGenerator g2(dcgan, init());
    DcganDiscriminator d2(dcgan, init());
    golden().load_weights(g2, c + ".G", config);
    golden().load_weights(d2, c + ".D", config);
    const AdamOptions betas{.beta1 = 0.5, .beta2 = 0.999};
    Adam opt_g(g2.parameters(), 2e-4, betas), opt_d(d2.parameters(), 2e-4, betas);
    const Tensor z0 = z.detach(), real0 = real.detach();
    std::vector<double> losses_d, losses_g;
    for (int step = 1; step <= kSteps; ++step) {
      // The real batch through D first, then the fake one (each pass updates D's running statistics).
      Tensor f = g2.forward(z0);
      Tensor dr = d2.forward(real0);
      Tensor df = d2.forward(f.detach());
      Tensor ld = add(binary_cross_entropy_with_logits(dr, ones), binary_cross_entropy_with_logits(df, zeros_));
      opt_d.zero_grad();
      ld.backward();
      opt_d.step();
      Tensor lg = binary_cross_entropy_with_logits(d2.forward(f), ones);
      opt_g.zero_grad();
      lg.backward();
      opt_g.step();
      losses_d.push_back(ld.item());
      losses_g.push_back(lg.item());
    }
    CHECK_GOLDEN(report, "losses_d", from_vector(losses_d, {kSteps}, {.dtype = DType::Float64}),
                 expected(c + ".losses_d"));
    CHECK_GOLDEN(report, "losses_g", from_vector(losses_g, {kSteps}, {.dtype = DType::Float64}),
                 expected(c + ".losses_g"));
    // The batch-norm running statistics after 5 steps (3 discriminator and 1 generator forward passes a step).
    for (const auto& [name, t] : g2.named_buffers())
      CHECK_GOLDEN(report, "after.G." + name, t, expected(c + ".after.G." + name));
    for (const auto& [name, t] : d2.named_buffers())
      CHECK_GOLDEN(report, "after.D." + name, t, expected(c + ".after.D." + name));
  }
}

}  // namespace

TEST_CASE("golden models: the Fashion-MNIST classifier against PyTorch", "[golden][models]") {
  const ClassifierConfig tiny{.in_channels = 1, .classes = 10, .conv1 = 4, .conv2 = 6, .features = 10};
  for (const GoldenConfig& config : test::golden_configs()) {
    GoldenReport report("classifier", config);
    Classifier model(tiny, init());
    golden().load_weights(model, "classifier", config);
    Tensor x = golden().get("classifier.x", config, true), labels = golden().get("classifier.labels", config);
    Tensor logits = model.forward(x);
    CHECK_GOLDEN(report, "output", logits, expected("classifier.output"));
    Tensor loss = cross_entropy(logits, labels);
    CHECK_GOLDEN(report, "loss", loss, expected("classifier.loss"));
    loss.backward();
    CHECK_GOLDEN(report, "grad.x", x.grad(), expected("classifier.grad.x"));
    check_parameter_grads(report, model, "classifier");

    Classifier trained(tiny, init());
    golden().load_weights(trained, "classifier", config);
    Adam optimizer(trained.parameters(), 1e-3);
    const Tensor x0 = x.detach();
    Steps steps = train_steps(optimizer, [&](int) { return cross_entropy(trained.forward(x0), labels); });
    CHECK_GOLDEN(report, "losses", steps.losses, expected("classifier.losses"));
  }
}

TEST_CASE("golden models: DCGAN 28×28 against PyTorch", "[golden][models]") {
  check_dcgan("dcgan28", {.image_size = 28, .channels = 1, .latent = 6, .g_features = 2, .d_features = 2}, true);
}

TEST_CASE("golden models: DCGAN 64×64 against PyTorch", "[golden][models]") {
  check_dcgan("dcgan64", {.image_size = 64, .channels = 1, .latent = 4, .g_features = 1, .d_features = 1}, false);
}

TEST_CASE("golden models: the convolutional VAE against PyTorch", "[golden][models]") {
  const ConvVaeConfig tiny{.latent = 3, .channels = 1, .conv1 = 4, .conv2 = 4, .hidden = 8};
  for (const GoldenConfig& config : test::golden_configs()) {
    GoldenReport report("vae", config);
    ConvVAE model(tiny, init());
    golden().load_weights(model, "vae", config);
    // x is the encoder's input and the BCE target: its gradient has both paths.
    Tensor x = golden().get("vae.x", config, true), eps = golden().get("vae.eps", config);
    ConvVAE::Output out = model.forward(x, eps);
    CHECK_GOLDEN(report, "logits", out.logits, expected("vae.logits"));
    CHECK_GOLDEN(report, "mu", out.mu, expected("vae.mu"));
    CHECK_GOLDEN(report, "logvar", out.logvar, expected("vae.logvar"));
    Tensor loss = vae_loss(out, x);
    CHECK_GOLDEN(report, "loss", loss, expected("vae.loss"));
    loss.backward();
    CHECK_GOLDEN(report, "grad.x", x.grad(), expected("vae.grad.x"));
    check_parameter_grads(report, model, "vae");

    ConvVAE trained(tiny, init());
    golden().load_weights(trained, "vae", config);
    Adam optimizer(trained.parameters(), 1e-3);
    const Tensor x0 = x.detach();
    Steps steps = train_steps(optimizer, [&](int) { return vae_loss(trained.forward(x0, eps), x0); });
    CHECK_GOLDEN(report, "losses", steps.losses, expected("vae.losses"));
  }
}

TEST_CASE("golden models: char-RNN against PyTorch", "[golden][models]") {
  const double clip = 0.1;  // the trainer's --clip 0.1 (its default 1.0 would not act on this tiny model)
  check_language_model<CharRNN>(
      "charrnn", CharRnnConfig{.vocab = 11, .embed = 6, .hidden = 8, .layers = 2, .dropout = 0.0},
      [](const std::vector<Tensor>& params) { return std::make_unique<Adam>(params, 2e-3); }, clip);
}

TEST_CASE("golden models: the sentence VAE (RNN-VAE) against PyTorch", "[golden][models]") {
  const RnnVaeConfig tiny{.vocab = 10, .embed = 5, .hidden = 6, .latent = 3};
  const int64_t pad = 6;    // the 6 symbols are followed by PAD, BOS, EOS, UNK
  const double clip = 1.0;  // the trainer's --clip 1.0 (its default 5.0 would not act on this tiny model)
  for (const GoldenConfig& config : test::golden_configs()) {
    GoldenReport report("rnnvae", config);
    const Tensor targets = golden().get("rnnvae.targets", config), inputs = golden().get("rnnvae.inputs", config);
    const Tensor eps = golden().get("rnnvae.eps", config);
    const double batch = double(targets.size(0));
    const CrossEntropyOptions ce{.ignore_index = pad, .reduction = Reduction::Sum};
    // apps/train_rnnvae.cpp's loss: CE(sum, ignoring PAD)/B + β·KL/B, z = μ + ε·σ.
    struct Terms {
      Tensor loss, rec, kl, logits, mu, logvar;
    };
    auto terms = [&](RnnVAE& m, double beta) {
      Terms t;
      std::tie(t.mu, t.logvar) = m.encode(targets);
      t.logits = m.decode(add(t.mu, mul(eps, exp(mul(t.logvar, 0.5)))), inputs);
      t.rec = div(sequence_cross_entropy(t.logits, targets, ce), batch);
      t.kl = div(gaussian_kl(t.mu, t.logvar), batch);
      t.loss = add(t.rec, mul(t.kl, beta));
      return t;
    };
    RnnVAE model(tiny, init());
    golden().load_weights(model, "rnnvae", config);
    Terms t = terms(model, 1.0);
    CHECK_GOLDEN(report, "mu", t.mu, expected("rnnvae.mu"));
    CHECK_GOLDEN(report, "logvar", t.logvar, expected("rnnvae.logvar"));
    CHECK_GOLDEN(report, "logits", t.logits, expected("rnnvae.logits"));
    CHECK_GOLDEN(report, "rec", t.rec, expected("rnnvae.rec"));
    CHECK_GOLDEN(report, "kl", t.kl, expected("rnnvae.kl"));
    CHECK_GOLDEN(report, "loss", t.loss, expected("rnnvae.loss"));
    t.loss.backward();
    check_parameter_grads(report, model, "rnnvae");

    RnnVAE trained(tiny, init());
    golden().load_weights(trained, "rnnvae", config);
    Adam optimizer(trained.parameters(), 1e-3);
    const std::vector<double> betas = expected("rnnvae.betas").to_vector<double>();
    Steps steps = train_steps(
        optimizer, [&](int step) { return terms(trained, betas[size_t(step - 1)]).loss; }, clip);
    CHECK_GOLDEN(report, "grad_norms", steps.norms, expected("rnnvae.grad_norms"));
    CHECK_GOLDEN(report, "losses", steps.losses, expected("rnnvae.losses"));
  }
}

TEST_CASE("golden models: GPT against PyTorch", "[golden][models]") {
  // apps/train_lm.cpp's optimizer at a fixed learning rate (the trainer's warm-up and cosine decay set it).
  check_language_model<GPT>(
      "gpt", GptConfig{.vocab = 13, .context = 8, .layers = 2, .heads = 2, .width = 8, .dropout = 0.0},
      [](const std::vector<Tensor>& params) {
        return std::make_unique<AdamW>(params, 1e-3, AdamOptions{.beta1 = 0.9, .beta2 = 0.99, .weight_decay = 0.1});
      });
}

