// kiln eval RUN: the run's quality figure on the test set:
//   classifier  test accuracy
//   vae         test loss per image (negative ELBO, nats)
//   dcgan       Fréchet distance of 10,000 samples to the test images, on the features of a kiln-trained
//               classifier (--classifier RUN_OR_FILE; default: the newest runs/classifier-*)
//   gpt, charrnn  validation loss (nats and bits per symbol) over the non-overlapping windows of the
//               corpus's held-out last 10% (--windows N: the first N only)
//   rnnvae      validation loss per sentence (negative ELBO at z = μ + σ·ε, ε from --seed) over the held-out
//               sentences (--count N: the first N only)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/evaluation.h"
#include "apps/image_data.h"
#include "apps/run_models.h"
#include "apps/sentence_data.h"
#include "apps/token_data.h"
#include "apps/train_seq.h"
#include "apps/train_options.h"
#include "core/error.h"
#include "core/ops/ops.h"

namespace kiln::apps {

int eval_command(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first, {"device", "classifier", "count", "seed", "data", "windows"});
  if (args.positional().size() != 1) throw cli::UsageError("kiln eval takes one run folder");
  const RunDir run = RunDir::open(args.positional()[0]);
  const Config config = run.read_config();
  const std::string model = run_model(run, config);
  const std::map<std::string, std::vector<std::string>> flags_of = {
      {"classifier", {"device", "data"}},         {"vae", {"device", "data", "seed"}},
      {"dcgan", {"device", "data", "classifier", "count", "seed"}},
      {"gpt", {"device", "data", "windows"}},     {"charrnn", {"device", "data", "windows"}},
      {"rnnvae", {"device", "data", "count", "seed"}}};
  if (flags_of.count(model)) args.allow_only(flags_of.at(model), "evaluating a " + model + " run");
  const Device device = parse_device(args.get_string("device", "auto"));
  const std::string data_dir = args.get_string("data", config_value(run, config, "data"));
  // The test images: of --data, or of the run's recorded data, which an error then names as such.
  auto test_images = [&] {
    try {
      return load_image_data(data_dir, 0, false, {.size = 28, .channels = 1});
    } catch (const Error& e) {
      if (args.has("data")) throw;
      KILN_FAIL(message_of(e), " (the 'data' recorded in '", run.file("config.json"),
                "'; give --data to use other data)");
    }
  };
  Generator noise(uint64_t(args.get_int("seed", 0, 0, int64_t(1) << 62)));
  if (model == "classifier") {
    ImageData data = test_images();
    auto clf = load_classifier(run.path(), device);
    std::printf("%s: test accuracy %.2f%%\n", run.path().c_str(), 100.0 * classifier_accuracy(*clf, data.test, device));
  } else if (model == "vae") {
    ImageData data = test_images();
    auto vae = load_vae(run, device);
    std::printf("%s: test loss %.3f nats per image (negative ELBO)\n", run.path().c_str(),
                vae_test_loss(*vae, data.test.images, device, noise));
  } else if (model == "dcgan") {
    std::string clf_path = args.get_string("classifier", find_trained_classifier());
    if (clf_path.empty())
      throw cli::UsageError("the Fréchet distance needs a kiln-trained classifier: run 'kiln train classifier' "
                            "first, or pass --classifier RUN_OR_FILE");
    ImageData data = test_images();
    auto clf = load_classifier(clf_path, device);
    auto gen = load_dcgan_generator(run, device);
    KILN_CHECK(gen->config.image_size == 28 && gen->config.channels == 1, "the Fréchet distance uses a Fashion-MNIST ",
               "classifier's features: it needs 1×28×28 images, run '", run.path(), "' makes ", gen->config.channels, "×",
               gen->config.image_size, "×", gen->config.image_size);
    const int64_t count = args.get_int("count", 10000, 2, 1000000);
    const double fd = generator_frechet_distance(
        *clf, data.test.images,
        [&](int64_t n) {  // generator output in [-1, 1] → the classifier's [0, 1]
          return mul(add(gen->forward(randn({n, gen->config.latent}, {.device = device}, noise)), 1.0), 0.5);
        },
        count, device);
    std::printf("%s: Fréchet distance %.3f (%lld samples vs the %lld test images, features of %s)\n",
                run.path().c_str(), fd, (long long)count, (long long)data.test.images.size(0), clf_path.c_str());
  } else if (model == "gpt" || model == "charrnn") {
    const LanguageModel lm = load_language_model(run, device);
    const TokenData data = load_run_data(run, lm.corpus, args.get_string("data", ""));
    const int64_t windows = std::min<int64_t>(args.get_int("windows", int64_t(1) << 40, 1, int64_t(1) << 40),
                                     (data.validation.numel() - 1) / lm.context);
    KILN_CHECK(windows > 0, "the validation part of ", data.description, " is shorter than one window of ",
               lm.context, " tokens");
    const double loss = validation_loss(*lm.model, data.validation, lm.context, lm.vocab, device, windows);
    std::printf("%s: validation loss %.4f nats per symbol (%.4f bits), %lld windows of %lld tokens of %s\n",
                run.path().c_str(), loss, loss / std::log(2.0), (long long)windows, (long long)lm.context,
                data.description.c_str());
  } else if (model == "rnnvae") {
    SentenceVae s = load_sentence_vae(run, device, args.get_string("data", ""));
    const Specials sp(s.data.vocab);
    const Sentences val = sentences_of(s.data.validation, s.data.text.id_of('\n'), s.max_len, sp, "validation",
                                          s.data.description);
    const int64_t count = std::min<int64_t>(args.get_int("count", int64_t(1) << 40, 1, int64_t(1) << 40), val.count);
    double kl = 0.0;
    const double loss = sentence_vae_loss(*s.vae, val, sp, count, device, noise, &kl);
    std::printf("%s: validation loss %.3f nats per sentence (negative ELBO; KL %.3f), %lld sentences of %s\n",
                run.path().c_str(), loss, kl, (long long)count, s.data.description.c_str());
  } else {
    throw cli::UsageError("kiln eval: unknown model '" + model + "' in " + run.file("config.json"));
  }
  return 0;
}

}  // namespace kiln::apps
