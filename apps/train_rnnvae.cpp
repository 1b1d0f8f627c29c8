// kiln train rnnvae: the sentence VAE of models/rnn_vae.h on the lines of a text corpus (Debian's
// fortunes by default): every line of 8 to --max-len symbols is a sentence. Loss per sentence =
// reconstruction cross-entropy + β(t)·KL, with β rising linearly from 0 to 1 over --anneal steps (KL
// annealing) and decoder inputs replaced by UNK with probability --word-dropout. Samples: sentences
// decoded from z ~ N(0, I), and a walk between the codes of two validation sentences.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/model_io.h"
#include "apps/resumable.h"
#include "apps/run_models.h"
#include "apps/sentence_data.h"
#include "apps/token_data.h"
#include "apps/train_seq.h"
#include "apps/training_run.h"
#include "apps/vocabulary.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "models/rnn_vae.h"
#include "models/sampling.h"
#include "optim/clip.h"
#include "optim/optimizer.h"

namespace kiln::apps {


int train_rnnvae(int argc, char** argv, int first) {
  cli::Args args = train_args(argc, argv, first, "rnnvae");
  TrainOptions defaults;
  defaults.model = "rnnvae";
  defaults.lr = 1e-3;
  TrainOptions o = parse_train_options(args, defaults);
  use_cuda_graph(o, "kiln train rnnvae does not capture its step yet (CUDA graphs: docs/cuda.md)");  // one trainer so far: vae
  if (args.has("epochs")) throw cli::UsageError("--epochs: the sentence VAE counts --steps");
  if (o.limit > 0)  // (runs made before 2026-11-22 recorded --limit 0: resuming them replays it)
    throw cli::UsageError("--limit: not used by the sentence VAE (pass a smaller --data)");
  const bool cpu = !o.device.is_cuda();
  if (!args.has("batch")) o.batch = cpu ? 32 : 128;
  if (!args.has("steps")) o.steps = cpu ? 300 : 5000;
  const int64_t max_len = args.get_int("max-len", 64, 8, 4096);
  const int64_t anneal = args.get_int("anneal", std::max<int64_t>(1, o.steps / 2), 1, 1LL << 40);
  const double word_dropout = args.get_double("word-dropout", 0.25, 0.0, 1.0);
  const double clip = args.get_double("clip", 5.0, 0.0, 1e6);
  const double temperature = args.get_double("temperature", 0.8, 1e-6, 100.0);
  TokenData data = load_token_data("text", o.data);
  if (o.resume) use_vocabulary_of(RunDir::open(o.out), data);  // the ids it was trained with
  const Specials sp(data.vocab);
  KILN_CHECK(data.text.id_of('\n') >= 0, "the corpus has no line breaks to split sentences at");
  const int64_t newline = data.text.id_of('\n');
  Sentences train = sentences_of(data.train, newline, max_len, sp, "training", data.description);
  Sentences val = sentences_of(data.validation, newline, max_len, sp, "validation", data.description);
  KILN_CHECK(val.count >= 2, "the validation part of the corpus (its last 10%) has ", val.count,
             " usable sentences; the sentence VAE needs at least 2 (lines of 8 to ", max_len, " symbols)");
  models::RnnVaeConfig c{.vocab = sp.vocab,
                         .embed = args.get_int("embed", cpu ? 64 : 128, 1, 1 << 16),
                         .hidden = args.get_int("hidden", cpu ? 128 : 512, 1, 1 << 16),
                         .latent = args.get_int("latent", 32, 1, 4096)};
  const CrossEntropyOptions ce{.ignore_index = sp.pad, .reduction = Reduction::Sum};
  {  // memory: a step of a throwaway VAE, measured (core/memory_estimate.h); before any run folder exists
    // Built outside the measured step (building allocates its own peak); gradients freed before each step.
    Generator throwaway(0);  // not the run's generator: its draws initialize the real VAE below
    models::RnnVAE copy(c, throwaway);
    copy.to(o.device);
    const BatchStep probe = [&](int64_t batch) {
      copy.zero_grad();
      Tensor pick = randint(0, train.count, {batch}, {.dtype = DType::Int64}, throwaway);
      Tensor x = upload(index_select(train.targets, 0, pick), o.device);
      auto [mu, logvar] = copy.encode(x);
      Tensor logits = copy.decode(mu, upload(index_select(train.inputs, 0, pick), o.device));
      add(cross_entropy(logits.reshape({-1, sp.vocab}), x.reshape({-1}), ce), gaussian_kl(mu, logvar)).backward();
      copy.zero_grad();  // the next measurement starts from the same level
    };
    settle_batch(o, probe, 4096, uint64_t(copy.parameter_count()) * 2 * sizeof(float));  // Adam's m and v
  }
  Generator rng(o.seed);
  models::RnnVAE vae(c, rng);
  vae.to(o.device);
  Adam optimizer(vae.parameters(), o.lr);
  Generator batches(o.seed + 1), noise(o.seed + 2), drop(o.seed + 3), sampler(o.seed + 4);
  Resumable state;
  state.modules = {{"rnnvae", &vae}};
  state.optimizers = {{"adam", &optimizer}};
  state.generators = {{"init", &rng}, {"batches", &batches}, {"noise", &noise}, {"drop", &drop},
                      {"sampler", &sampler}};
  state.learning_rate = o.lr;
  TrainingRun run(o, "sentence VAE on " + data.description + ", " + std::to_string(train.count) + " sentences",
                  {{"max_len", std::to_string(max_len)}, {"embed", std::to_string(c.embed)},
                   {"hidden", std::to_string(c.hidden)}, {"latent", std::to_string(c.latent)},
                   {"anneal", std::to_string(anneal)}, {"word_dropout", exact_number(word_dropout)},
                   {"clip", exact_number(clip)}, {"parameters", std::to_string(vae.parameter_count())},
                   {"vocab", std::to_string(data.vocab)}, {"symbols", symbols_text(data.text)}},
                  "sent", state);
  for (int64_t step = run.first_step(); step <= o.steps; ++step) {
    Tensor pick = randint(0, train.count, {o.batch}, {.dtype = DType::Int64}, batches);
    Tensor targets = index_select(train.targets, 0, pick), inputs = index_select(train.inputs, 0, pick);
    if (word_dropout > 0.0) {  // UNK for a fraction of the real symbols (not BOS, not padding)
      Tensor u = rand(inputs.shape(), {.dtype = DType::Float64}, drop);
      std::vector<int64_t> in = inputs.to_vector<int64_t>();
      const std::vector<double> r = u.to_vector<double>();
      for (size_t i = 0; i < in.size(); ++i)
        if (in[i] < sp.pad && r[i] < word_dropout) in[i] = sp.unk;
      inputs = from_vector(in, inputs.shape(), {.dtype = DType::Int64});
    }
    Tensor x = upload(targets, o.device);
    auto [mu, logvar] = vae.encode(x);
    Tensor z = add(mu, mul(randn(mu.shape(), {.device = o.device}, noise), exp(mul(logvar, 0.5))));
    Tensor logits = vae.decode(z, upload(inputs, o.device));
    Tensor rec = div(cross_entropy(logits.reshape({-1, sp.vocab}), x.reshape({-1}), ce), double(o.batch));
    Tensor kl = div(gaussian_kl(mu, logvar), double(o.batch));
    const double beta = std::min(1.0, double(step) / double(anneal));
    Tensor loss = add(rec, mul(kl, beta));
    optimizer.zero_grad();
    loss.backward();
    if (clip > 0.0) clip_grad_norm_(vae.parameters(), clip);
    optimizer.step();
    run.accumulate("reconstruction", rec);
    run.accumulate("kl", kl);
    if (!run.step_done(step, -1, o.batch)) continue;  // a diverged step was undone (--on-nan)
    if (run.due(step, o.sample_every)) {
      NoGradGuard no_grad;
      vae.eval();
      // Validation ELBO per sentence on up to 512 sentences (z = μ + σ·ε).
      double vkl = 0.0;
      const double vloss = sentence_vae_loss(vae, val, sp, 512, o.device, noise, &vkl);
      const double vrec = vloss - vkl;
      run.log(step, {{"val_elbo_loss", vrec + vkl}, {"val_kl", vkl}});
      std::string text = "z ~ N(0, I):\n";
      for (int i = 0; i < 6; ++i)
        text += "  " + decode_sentence(vae, randn({1, c.latent}, {.device = o.device}, sampler), data, sp, max_len,
                                       temperature, o.device, sampler) + "\n";
      text += "\nfrom the code of one validation sentence to another's:\n";
      auto [vmu, vlv] = vae.encode(upload(val.targets.narrow(0, 0, 2).contiguous(), o.device));
      Tensor za = vmu.narrow(0, 0, 1), zb = vmu.narrow(0, 1, 1);
      for (int i = 0; i <= 4; ++i)
        text += "  " + decode_sentence(vae, add(za, mul(sub(zb, za), i / 4.0)), data, sp, max_len, 1e-3, o.device,
                                       sampler) + "\n";
      vae.train();
      char result[96];
      std::snprintf(result, sizeof result, "%.3f nats per sentence (KL %.3f) at step %lld", vrec + vkl, vkl,
                    (long long)step);
      run.report().results = {{"validation loss (negative ELBO)", result}};
      run.report().texts = {{"samples at step " + std::to_string(step), text}};
      save_weights(vae, run.dir().file("model.safetensors"), {{"model", "rnnvae"}});
      run.write_report();
    }
    if (!run.end_of_step(step, state)) break;  // a checkpoint when due, or after Ctrl-C
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
