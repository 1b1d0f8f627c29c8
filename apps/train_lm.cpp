// kiln train gpt | charrnn: next-token prediction on a token stream, text by default (Debian's fortunes)
// or music (--corpus music: MIDI event tokens of Debian's MIDI packages). Random windows of the context
// length, cross-entropy, validation loss (and bits per symbol) on the held-out last 10%, and samples:
// text, or MIDI + WAV for music.
//   gpt      AdamW(β = (0.9, 0.99), weight decay 0.1), linear warm-up then cosine decay to lr/10
//   charrnn  Adam, gradient clipping at global norm 1.0 (the anchors' char-LSTM recipe)
#include <cmath>
#include <functional>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/model_io.h"
#include "apps/resumable.h"
#include "apps/run_models.h"
#include "apps/token_data.h"
#include "apps/train_seq.h"
#include "apps/training_run.h"
#include "apps/vocabulary.h"
#include "core/error.h"
#include "core/memory_estimate.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "models/char_rnn.h"
#include "models/gpt.h"
#include "optim/clip.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace kiln::apps {
namespace {

// Writes a sample (text, or MIDI + WAV) and puts it into the report.
void write_sample(TrainingRun& run, const TokenData& data, const std::vector<int64_t>& tokens, int64_t step) {
  const WrittenSample written = write_token_sample(run.dir().sample_stem(step), data, tokens);
  if (data.corpus == "text") {
    run.report().texts = {{"sample at step " + std::to_string(step), written.text}};
    return;
  }
  run.report().audio = {{"melody at step " + std::to_string(step) + " (" + std::to_string(written.notes) +
                             " notes, " + written.renderer + "; MIDI beside it)",
                         written.files[1]}};
}

}  // namespace

int train_sequence_model(int argc, char** argv, int first, const std::string& kind) {
  const bool gpt = kind == "gpt";
  cli::Args args = train_args(argc, argv, first, kind);
  TrainOptions defaults;
  defaults.model = kind;
  defaults.lr = gpt ? 1e-3 : 2e-3;
  TrainOptions o = parse_train_options(args, defaults);
  use_cuda_graph(o, "kiln train " + o.model + " does not capture its step yet (CUDA graphs: docs/cuda.md)");
  if (args.has("epochs")) throw cli::UsageError("--epochs: sequence models count --steps (random windows)");
  if (o.limit > 0)  // (runs made before 2026-11-22 recorded --limit 0: resuming them replays it)
    throw cli::UsageError("--limit: not used by sequence models (pass a smaller --data)");
  // GPU defaults: the anchors' workloads (GPT 6×384, context 256; char-LSTM 2×512, 128 steps), batch 64,
  // 3000 steps. CPU defaults: small models and 300 steps, a run of minutes.
  const bool cpu = !o.device.is_cuda();
  if (!args.has("batch")) o.batch = cpu ? 32 : 64;
  if (!args.has("steps")) o.steps = cpu ? 300 : 3000;
  const int64_t context = args.get_int("context", gpt ? (cpu ? 64 : 256) : (cpu ? 64 : 128), 2, 1 << 16);
  const double dropout = args.get_double("dropout", 0.0, 0.0, 0.99);
  const double temperature = args.get_double("temperature", 0.8, 1e-6, 100.0);
  const int64_t top_k = args.get_int("top-k", 0, 0, 1 << 20);
  const int64_t val_windows = args.get_int("val-windows", cpu ? 128 : 1000000, 1, 1LL << 40);
  const std::string corpus = args.get_string("corpus", "text");
  TokenData data = load_token_data(corpus, o.data);
  if (o.resume) use_vocabulary_of(RunDir::open(o.out), data);  // the ids it was trained with
  KILN_CHECK(data.validation.numel() > context && data.train.numel() > context + 1, "the corpus ", data.description,
             " is too short for windows of ", context, " tokens (", data.train.numel(), " training and ",
             data.validation.numel(), " validation tokens): pass a smaller --context or more data");

  Generator rng(o.seed);
  std::shared_ptr<UnaryModule> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  double clip = 0.0;
  std::function<std::shared_ptr<UnaryModule>(Generator&)> build;  // the network, on the run's device
  Config model_config = {{"corpus", corpus}, {"vocab", std::to_string(data.vocab)},
                         {"context", std::to_string(context)}, {"dropout", exact_number(dropout)}};
  if (corpus == "text") model_config["symbols"] = symbols_text(data.text);
  if (gpt) {
    const int64_t heads = args.get_int("heads", cpu ? 4 : 6, 1, 256), width = args.get_int("width", cpu ? 128 : 384, 1, 1 << 16);
    if (width % heads != 0)
      throw cli::UsageError("--width " + std::to_string(width) + " must be a multiple of --heads " + std::to_string(heads));
    models::GptConfig c{.vocab = data.vocab,
                        .context = context,
                        .layers = args.get_int("layers", cpu ? 2 : 6, 1, 256),
                        .heads = heads,
                        .width = width,
                        .dropout = dropout};
    build = [c, device = o.device](Generator& init) {
      auto m = std::make_shared<models::GPT>(c, init);
      m->to(device);
      return m;
    };
    auto m = std::static_pointer_cast<models::GPT>(build(rng));
    // The cosine decay's length is a setting of its own (nanoGPT's lr_decay_iters), recorded with the run:
    // `kiln resume RUN --steps MORE` then goes on at the final learning rate instead of stretching the
    // schedule, and a resumed run is the same as one that ran straight through.
    const int64_t decay_steps = args.get_int("decay-steps", o.steps, 1, int64_t(1) << 40);
    const int64_t warmup = args.get_int("warmup", std::min<int64_t>(100, decay_steps / 10), 0, decay_steps);
    const double weight_decay = args.get_double("weight-decay", 0.1, 0.0, 10.0);
    optimizer = std::make_unique<AdamW>(m->parameters(), o.lr,
                                        AdamOptions{.beta1 = 0.9, .beta2 = 0.99, .weight_decay = weight_decay});
    schedule = std::make_unique<CosineWarmupLR>(o.lr, warmup, decay_steps, o.lr / 10);
    model_config.insert({{"layers", std::to_string(c.layers)}, {"heads", std::to_string(c.heads)},
                         {"width", std::to_string(c.width)}, {"warmup", std::to_string(warmup)},
                         {"decay_steps", std::to_string(decay_steps)},
                         {"weight_decay", exact_number(weight_decay)}});
    model = m;
  } else {
    models::CharRnnConfig c{.vocab = data.vocab,
                            .embed = args.get_int("embed", cpu ? 64 : 128, 1, 1 << 16),
                            .hidden = args.get_int("hidden", cpu ? 128 : 512, 1, 1 << 16),
                            .layers = args.get_int("layers", 2, 1, 64),
                            .dropout = dropout};
    build = [c, device = o.device](Generator& init) {
      auto m = std::make_shared<models::CharRNN>(c, init);
      m->to(device);
      return m;
    };
    auto m = build(rng);
    optimizer = std::make_unique<Adam>(m->parameters(), o.lr);
    clip = args.get_double("clip", 1.0, 0.0, 1e6);
    model_config.insert({{"embed", std::to_string(c.embed)}, {"hidden", std::to_string(c.hidden)},
                         {"layers", std::to_string(c.layers)}, {"clip", exact_number(clip)}});
    model = m;
  }
  model_config["parameters"] = std::to_string(model->parameter_count());
  {  // memory: a forward and backward pass of a throwaway copy measures a step (core/memory_estimate.h)
    // Built outside the measured step (building allocates its own peak); gradients freed before each step.
    Generator throwaway(0);
    const std::shared_ptr<UnaryModule> copy = build(throwaway);
    const BatchStep probe = [&](int64_t batch) {
      copy->zero_grad();
      auto [x, y] = random_windows(data.train, batch, context, throwaway);
      Tensor logits = copy->forward(upload(x, o.device));
      cross_entropy(logits.reshape({batch * context, data.vocab}), upload(y, o.device).reshape({-1})).backward();
      copy->zero_grad();  // the next measurement starts from the same level
    };
    const uint64_t adam_state = uint64_t(model->parameter_count()) * 2 * sizeof(float);  // m and v
    settle_batch(o, probe, 4096, adam_state);
  }
  Generator windows(o.seed + 1), sampler(o.seed + 2);
  Resumable state;
  state.modules = {{kind, model.get()}};
  state.optimizers = {{"optimizer", optimizer.get()}};
  state.generators = {{"init", &rng}, {"windows", &windows}, {"sampler", &sampler}};
  state.learning_rate = o.lr;
  TrainingRun run(o, (gpt ? "GPT" : "char-RNN") + std::string(" on ") + data.description, model_config, "tok", state);
  for (int64_t step = run.first_step(); step <= o.steps; ++step) {
    auto [x, y] = random_windows(data.train, o.batch, context, windows);
    if (schedule) optimizer->set_lr(schedule->lr_at(step) * run.lr_scale());  // (halved by NaN-guard rollbacks)
    Tensor logits = model->forward(upload(x, o.device));
    Tensor loss = cross_entropy(logits.reshape({o.batch * context, data.vocab}), upload(y, o.device).reshape({-1}));
    optimizer->zero_grad();
    loss.backward();
    if (clip > 0.0) clip_grad_norm_(model->parameters(), clip);
    optimizer->step();
    run.accumulate("loss", loss);
    if (!run.step_done(step, -1, o.batch * context)) continue;  // a diverged step was undone (--on-nan)
    if (run.due(step, o.sample_every)) {
      const double val = validation_loss(*model, data.validation, context, data.vocab, o.device, val_windows);
      run.log(step, {{"val_loss", val}, {"val_bits_per_symbol", val / std::log(2.0)}});
      char text[96];
      std::snprintf(text, sizeof text, "%.4f nats (%.3f bits) per symbol at step %lld", val, val / std::log(2.0),
                    (long long)step);
      run.report().results = {{"validation loss", text}};
      const int64_t length = corpus == "text" ? 400 : 600;
      write_sample(run, data, generate(*model, sample_prompt(data), length, context, temperature, top_k, o.device, sampler),
                   step);
      save_weights(*model, run.dir().file("model.safetensors"), {{"model", kind}});
      run.write_report();
    }
    if (!run.end_of_step(step, state)) break;  // a checkpoint when due, or after Ctrl-C
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
