// kiln sample RUN: new samples from a trained generator, written into RUN/samples/:
//   dcgan, vae: an image grid of --count samples (z ~ N(0, I) from --seed), or with --interpolate a grid
//   whose rows walk in a straight line through latent space between two random points.
//   gpt, charrnn: --length tokens drawn with --temperature and --top-k: text (.txt), or for music MIDI and
//   a WAV (FluidSynth when installed, else the built-in synthesizer).
//   rnnvae: --count sentences decoded from z ~ N(0, I) at --temperature, or with --interpolate the
//   sentences along a straight line between the codes of two validation sentences; written as text.
#include <cstdio>
#include <filesystem>
#include <functional>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/output_path.h"
#include "apps/run_models.h"
#include "apps/sentence_data.h"
#include "apps/token_data.h"
#include "apps/train_seq.h"
#include "apps/train_options.h"
#include "apps/vocabulary.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "core/serialization/atomic_file.h"
#include "data/image_grid.h"

namespace kiln::apps {
namespace {

// Rows of `steps` points: row r goes from a_r to b_r, z = (1 − t)·a + t·b for t = 0 … 1.
Tensor interpolation_latents(int64_t rows, int64_t steps, int64_t latent, Generator& g) {
  Tensor a = randn({rows, 1, latent}, {}, g), b = randn({rows, 1, latent}, {}, g);
  std::vector<double> ts;
  for (int64_t i = 0; i < steps; ++i) ts.push_back(steps > 1 ? double(i) / double(steps - 1) : 0.0);
  Tensor t = from_vector(ts, {1, steps, 1}).to(DType::Float32);
  return add(a, mul(sub(b, a), t)).reshape({rows * steps, latent});
}

// A language model's sample: text, or MIDI + WAV, at --out (a path without extension).
int sample_sequence(const RunDir& run, const cli::Args& args, Device device) {
  const LanguageModel lm = load_language_model(run, device);
  const TokenData data = vocabulary_of(run, lm.corpus);  // no corpus is read
  Generator g(uint64_t(args.get_int("seed", 0, 0, int64_t(1) << 62)));
  const int64_t length = args.get_int("length", 1000, 1, 1 << 20);
  const double temperature = args.get_double("temperature", 0.8, 1e-6, 100.0);
  const int64_t top_k = args.get_int("top-k", 0, 0, 1 << 20);
  const std::vector<int64_t> tokens =
      generate(*lm.model, sample_prompt(data), length, lm.context, temperature, top_k, device, g);
  const WrittenSample written = write_token_sample(args.get_string("out", run.file("samples/sample")), data, tokens);
  // The file keeps the bytes; the terminal gets them printable (an ESC byte in the corpus teaches the model
  // to write one).
  if (!written.text.empty()) std::printf("%s\n", printable_text(written.text).c_str());
  for (const std::string& file : written.files) std::printf("kiln: wrote %s\n", file.c_str());
  return 0;
}

// A sentence VAE's sample: sentences from random codes, or a walk between two validation sentences.
int sample_sentences(const RunDir& run, const cli::Args& args, Device device) {
  SentenceVae s = load_sentence_vae(run, device);
  const Specials sp(s.data.vocab);
  Generator g(uint64_t(args.get_int("seed", 0, 0, int64_t(1) << 62)));
  const double temperature = args.get_double("temperature", 0.8, 1e-6, 100.0);
  std::string text;
  NoGradGuard no_grad;
  if (args.has("interpolate")) {
    const Sentences val = sentences_of(s.data.validation, s.data.text.id_of('\n'), s.max_len, sp, "validation",
                                          s.data.description);
    KILN_CHECK(val.count >= 2, "the validation part of the corpus ", s.data.description,
               " has fewer than 2 sentences to walk between");
    Tensor mu = s.vae->encode(val.targets.narrow(0, 0, 2).contiguous().to(device)).first;
    Tensor za = mu.narrow(0, 0, 1), zb = mu.narrow(0, 1, 1);
    for (int i = 0; i <= 8; ++i)
      text += decode_sentence(*s.vae, add(za, mul(sub(zb, za), i / 8.0)), s.data, sp, s.max_len, 1e-3, device, g) + "\n";
  } else {
    const int64_t count = args.get_int("count", 10, 1, 4096);
    for (int64_t i = 0; i < count; ++i)
      text += decode_sentence(*s.vae, randn({1, s.vae->config.latent}, {}, g).to(device), s.data, sp, s.max_len,
                              temperature, device, g) + "\n";
  }
  const std::string out = args.get_string("out", run.file(args.has("interpolate") ? "samples/interpolation.txt"
                                                                                     : "samples/sample.txt"));
  write_file_atomically(out, text.data(), text.size());
  std::printf("%skiln: wrote %s\n", printable_text(text).c_str(), out.c_str());
  return 0;
}

}  // namespace

int sample_command(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first, {"count", "seed", "device", "out", "length", "temperature", "top-k"},
                 {"interpolate"});
  if (args.positional().size() != 1) throw cli::UsageError("kiln sample takes one run folder");
  const RunDir run = RunDir::open(args.positional()[0]);
  const Config config = run.read_config();
  const std::string model = run_model(run, config);
  const std::string what = "sampling a " + model + " run";
  if (model == "gpt" || model == "charrnn")
    args.allow_only({"device", "seed", "out", "length", "temperature", "top-k"}, what);
  else if (model == "rnnvae")
    args.allow_only({"device", "seed", "out", "temperature", "count", "interpolate"}, what);
  else
    args.allow_only({"device", "seed", "out", "count", "interpolate"}, what);
  if (args.has("interpolate") && args.has("count"))  // an interpolation has its own size
    throw cli::UsageError("--count does not apply to --interpolate");
  if (args.has("interpolate") && args.has("temperature"))  // the walk decodes greedily, to show the codes
    throw cli::UsageError("--temperature does not apply to --interpolate");
  if (args.has("out")) {  // checked before any weights are read
    const std::string out = args.get_string("out", "");
    if (model == "gpt" || model == "charrnn")
      check_output_stem("--out", out, {".txt", ".mid", ".wav"});
    else if (model == "rnnvae")
      check_output_file("--out", out);
    else if (model == "dcgan" || model == "vae")
      check_output_file("--out", out, ".png");
  }
  const Device device = parse_device(args.get_string("device", "auto"));
  std::error_code ec;  // samples/ goes back where it was deleted (a failure shows when the sample is written)
  if (!args.has("out")) std::filesystem::create_directories(run.file("samples"), ec);
  if (model == "gpt" || model == "charrnn") return sample_sequence(run, args, device);
  if (model == "rnnvae") return sample_sentences(run, args, device);
  const int64_t count = args.get_int("count", 64, 1, 4096);
  Generator g(uint64_t(args.get_int("seed", 0, 0, int64_t(1) << 62)));
  const bool interpolate = args.has("interpolate");
  const std::string out = args.get_string("out", run.file(interpolate ? "samples/interpolation.png" : "samples/sample.png"));

  int64_t latent = 0;
  std::function<Tensor(const Tensor&)> decode;
  data::GridOptions grid;
  if (model == "dcgan") {
    auto gen = load_dcgan_generator(run, device);
    latent = gen->config.latent;
    decode = [gen](const Tensor& z) { return gen->forward(z); };
    grid.low = -1.0;
  } else if (model == "vae") {
    auto vae = load_vae(run, device);
    latent = vae->latent;
    decode = [vae](const Tensor& z) { return sigmoid(vae->decode(z)); };
  } else {
    throw cli::UsageError("kiln sample: a " + model + " run has no samples (dcgan, vae, gpt, charrnn and rnnvae do)");
  }
  NoGradGuard no_grad;
  Tensor z = interpolate ? interpolation_latents(8, 10, latent, g) : randn({count, latent}, {}, g);
  grid.nrow = interpolate ? 10 : 8;
  data::save_image_grid(out, decode(z.to(device)), grid);
  std::printf("kiln: wrote %s\n", out.c_str());
  return 0;
}

}  // namespace kiln::apps
