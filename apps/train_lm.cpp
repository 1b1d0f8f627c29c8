// kiln train gpt (and the other sequence models): next-token prediction on a token stream, text by
// default (Debian's fortunes) or music (--corpus music: MIDI event tokens). Random windows of the
// context length, cross-entropy, validation loss (and bits per symbol) on the held-out last 10%, and
// samples: text, or MIDI + WAV for music.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/model_io.h"
#include "apps/token_data.h"
#include "apps/training_run.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/pinned_memory.h"
#include "core/random.h"
#include "core/serialization/atomic_file.h"
#include "data/midi.h"
#include "data/midi_tokens.h"
#include "data/synth.h"
#include "data/wav.h"
#include "models/gpt.h"
#include "models/sampling.h"
#include "optim/clip.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace kiln::apps {
namespace {

// A CPU batch onto the training device: pinned and copied asynchronously on a GPU.
Tensor upload(const Tensor& t, Device device) {
  return device.is_cuda() ? to_device_async(pin_memory(t), device) : t;
}

// Mean cross-entropy over non-overlapping windows of the validation stream (at most max_windows).
double validation_loss(UnaryModule& model, const Tensor& stream, int64_t context, int64_t vocab, Device device,
                       int64_t max_windows) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t windows = std::min(max_windows, (stream.numel() - 1) / context);
  double total = 0.0;
  for (int64_t start = 0; start < windows; start += 64) {
    const int64_t n = std::min<int64_t>(64, windows - start);
    Tensor x = stream.narrow(0, start * context, n * context).view({n, context});
    Tensor y = stream.narrow(0, start * context + 1, n * context).view({n, context});
    Tensor logits = model.forward(upload(x.contiguous(), device));
    total += cross_entropy(logits.reshape({n * context, vocab}), upload(y.contiguous(), device).reshape({-1}),
                           {.reduction = Reduction::Sum})
                 .item();
  }
  model.train();
  return total / double(windows * context);
}

// `count` new tokens after `prompt`, each from the model's logits at the last position (the input is
// the latest `context` tokens).
std::vector<int64_t> generate(UnaryModule& model, std::vector<int64_t> tokens, int64_t count, int64_t context,
                              double temperature, int64_t top_k, Device device, Generator& g) {
  NoGradGuard no_grad;
  model.eval();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = std::min<int64_t>(context, int64_t(tokens.size()));
    std::vector<int64_t> window(tokens.end() - n, tokens.end());
    Tensor logits = model.forward(from_vector(window, {1, n}, {.dtype = DType::Int64}).to(device));
    tokens.push_back(models::sample_token(logits.select(0, 0).select(0, n - 1), temperature, top_k, g));
  }
  model.train();
  return tokens;
}

}  // namespace

int train_gpt(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first,
                 train_flag_names({"corpus", "context", "layers", "heads", "width", "dropout", "warmup",
                                   "weight-decay", "temperature", "top-k", "val-windows"}));
  TrainOptions defaults;
  defaults.model = "gpt";
  defaults.lr = 1e-3;
  defaults.sample_every = 500;
  defaults.log_every = 50;
  TrainOptions o = parse_train_options(args, defaults);
  // GPU: the anchor GPT (6 layers, 6 heads, width 384, context 256), batch 64, 3000 steps.
  // CPU: a small one (2 layers, 4 heads, width 128, context 64), batch 32, 300 steps: minutes, not hours.
  const bool cpu = !o.device.is_cuda();
  models::GptConfig c;
  c.context = args.get_int("context", cpu ? 64 : 256, 2, 1 << 16);
  c.layers = args.get_int("layers", cpu ? 2 : 6, 1, 256);
  c.heads = args.get_int("heads", cpu ? 4 : 6, 1, 256);
  c.width = args.get_int("width", cpu ? 128 : 384, 1, 1 << 16);
  c.dropout = args.get_double("dropout", 0.0, 0.0, 0.99);
  if (!args.has("batch")) o.batch = cpu ? 32 : 64;
  if (!args.has("steps") && !args.has("epochs")) o.steps = cpu ? 300 : 3000;
  if (args.has("epochs")) throw cli::UsageError("--epochs: sequence models count --steps (random windows)");
  const int64_t warmup = args.get_int("warmup", std::min<int64_t>(100, o.steps / 10), 0, o.steps);
  const double weight_decay = args.get_double("weight-decay", 0.1, 0.0, 10.0);
  const double temperature = args.get_double("temperature", 0.8, 1e-6, 100.0);
  const int64_t top_k = args.get_int("top-k", 0, 0, 1 << 20);
  const int64_t val_windows = args.get_int("val-windows", cpu ? 128 : 1000000, 1, 1LL << 40);
  const std::string corpus = args.get_string("corpus", "text");
  TokenData data = load_token_data(corpus, o.data);
  c.vocab = data.vocab;

  Generator rng(o.seed);
  models::GPT model(c, rng);
  model.to(o.device);
  AdamW optimizer(model.parameters(), o.lr, {.beta1 = 0.9, .beta2 = 0.99, .weight_decay = weight_decay});
  CosineWarmupLR schedule(o.lr, warmup, o.steps, o.lr / 10);
  TrainingRun run(o, "GPT on " + data.description,
                  {{"corpus", corpus}, {"vocab", std::to_string(c.vocab)}, {"context", std::to_string(c.context)},
                   {"layers", std::to_string(c.layers)}, {"heads", std::to_string(c.heads)},
                   {"width", std::to_string(c.width)}, {"dropout", std::to_string(c.dropout)},
                   {"warmup", std::to_string(warmup)}, {"weight_decay", std::to_string(weight_decay)},
                   {"parameters", std::to_string(model.parameter_count())}},
                  "tok");
  Generator windows(o.seed + 1), sampler(o.seed + 2);
  for (int64_t step = 1; step <= o.steps; ++step) {
    auto [x, y] = random_windows(data.train, o.batch, c.context, windows);
    schedule.apply(optimizer, step);
    Tensor logits = model.forward(upload(x, o.device));
    Tensor loss = cross_entropy(logits.reshape({o.batch * c.context, c.vocab}), upload(y, o.device).reshape({-1}));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    run.accumulate("loss", loss);
    run.step_done(step, -1, o.batch * c.context);
    if (run.due(step, o.sample_every)) {
      const double val = validation_loss(model, data.validation, c.context, c.vocab, o.device, val_windows);
      run.log(step, {{"val_loss", val}, {"val_bits_per_symbol", val / std::log(2.0)}});
      char text[96];
      std::snprintf(text, sizeof text, "%.4f nats (%.3f bits) per symbol at step %lld", val, val / std::log(2.0),
                    (long long)step);
      run.report().results = {{"validation loss", text}};
      char stem[64];
      std::snprintf(stem, sizeof stem, "samples/step-%06lld", (long long)step);
      if (corpus == "text") {
        std::vector<int64_t> tokens =
            generate(model, data.text.encode("\n"), 400, c.context, temperature, top_k, o.device, sampler);
        const std::string sample = data.text.decode(tokens);
        write_file_atomically(run.dir().file(std::string(stem) + ".txt"), sample.data(), sample.size());
        run.report().texts = {{"sample at step " + std::to_string(step), sample}};
      } else {
        std::vector<int64_t> tokens = generate(model, {data::midi_tokens::kVelocity + 16}, 600, c.context,
                                               temperature, top_k, o.device, sampler);
        std::vector<int32_t> events(tokens.begin(), tokens.end());
        std::vector<data::Note> notes = data::decode_tokens(events);
        data::write_midi(run.dir().file(std::string(stem) + ".mid"), data::notes_to_midi(notes));
        data::write_wav(run.dir().file(std::string(stem) + ".wav"), data::synthesize_notes(notes), 22050);
        run.report().audio = {{"melody at step " + std::to_string(step) + " (built-in synthesizer)",
                               run.dir().file(std::string(stem) + ".wav")}};
      }
      save_weights(model, run.dir().file("model.safetensors"), {{"model", "gpt"}});
      run.write_report();
    }
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
