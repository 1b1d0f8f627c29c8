#include "apps/run_models.h"

#include <cmath>
#include <filesystem>
#include <optional>

#include "apps/cli_args.h"
#include "apps/model_io.h"
#include "apps/sentence_data.h"
#include "apps/train_options.h"
#include "apps/vocabulary.h"
#include "core/error.h"
#include "core/printable.h"
#include "models/char_rnn.h"
#include "models/gpt.h"

namespace kiln::apps {
namespace fs = std::filesystem;

std::string config_value(const RunDir& run, const Config& config, const std::string& key) {
  auto it = config.find(key);
  KILN_CHECK(it != config.end(), "'", run.file("config.json"), "' has no '", key, "'");
  return it->second;
}

std::string run_model(const RunDir& run, const Config& config) {
  const std::string model = config_value(run, config, "model");
  std::string known;
  for (const auto& [name, flags] : model_train_flags()) {
    if (name == model) return model;
    known += (known.empty() ? "" : ", ") + name;
  }
  KILN_FAIL("'", run.file("config.json"), "': 'model' is '", printable(model), "', which is no model kiln trains (",
            known, "): the file is damaged, or was written by another program");
}

int64_t config_int(const RunDir& run, const Config& config, const std::string& key, int64_t lo, int64_t hi) {
  const std::string text = config_value(run, config, key);
  const std::optional<long long> v = cli::parse_integer(text);
  KILN_CHECK(v && *v >= lo && *v <= hi, "'", run.file("config.json"), "': '", key, "' is '", printable(text),
             "', expected an integer from ", lo, " to ", hi);
  return *v;
}

double config_double(const RunDir& run, const Config& config, const std::string& key, double lo, double hi) {
  const std::string text = config_value(run, config, key);
  const std::optional<double> v = cli::parse_number(text);
  KILN_CHECK(v && std::isfinite(*v) && *v >= lo && *v <= hi, "'", run.file("config.json"), "': '", key, "' is '",
             printable(text), "', expected a number from ", lo, " to ", hi);
  return *v;
}

TokenData load_run_data(const RunDir& run, const std::string& corpus, const std::string& path) {
  TokenData d;
  if (!path.empty()) {
    d = load_token_data(corpus, path);
  } else {
    const std::string recorded = config_value(run, run.read_config(), "data");
    try {
      d = load_token_data(corpus, recorded);
    } catch (const Error& e) {  // the path came from the file, not from the user: say so
      KILN_FAIL(message_of(e), " (the 'data' recorded in '", run.file("config.json"),
                "'; give --data to use other data)");
    }
  }
  use_vocabulary_of(run, d);
  return d;
}

namespace {

constexpr int64_t kMaxSize = int64_t(1) << 20;  // the largest width, latent size or length a config may give

void check_model(const RunDir& run, const Config& config, const std::string& expected) {
  const std::string model = run_model(run, config);
  KILN_CHECK(model == expected, "run '", run.path(), "' trained a ", model, ", not a ", expected);
}

std::string weights_file(const RunDir& run) {
  const std::string path = run.file("model.safetensors");
  KILN_CHECK(fs::exists(path), "run '", run.path(), "' has no model.safetensors yet (it saves one at its first sample ",
             "or epoch)");
  return path;
}

}  // namespace

std::shared_ptr<models::DcganGenerator> load_dcgan_generator(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "dcgan");
  models::DcganConfig c;
  c.latent = config_int(run, config, "latent", 1, kMaxSize);
  c.g_features = c.d_features = config_int(run, config, "features", 1, kMaxSize);
  c.channels = config_int(run, config, "channels", 1, 3);
  c.image_size = config_int(run, config, "image_size", 28, 64);
  auto g = std::make_shared<models::DcganGenerator>(c);
  load_weights(*g, weights_file(run));
  g->to(device);
  g->eval();
  return g;
}

std::shared_ptr<models::ConvVAE> load_vae(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "vae");
  auto vae = std::make_shared<models::ConvVAE>(config_int(run, config, "latent", 1, kMaxSize),
                                              config_int(run, config, "channels", 1, 3));
  load_weights(*vae, weights_file(run));
  vae->to(device);
  vae->eval();
  return vae;
}

LanguageModel load_language_model(const RunDir& run, Device device) {
  const Config config = run.read_config();
  LanguageModel lm;
  lm.kind = run_model(run, config);
  KILN_CHECK(lm.kind == "gpt" || lm.kind == "charrnn", "run '", run.path(), "' trained a ", lm.kind,
             ", not a language model (gpt or charrnn)");
  auto number = [&](const std::string& key) { return config_int(run, config, key, 1, kMaxSize); };
  lm.corpus = config_value(run, config, "corpus");
  KILN_CHECK(lm.corpus == "text" || lm.corpus == "music", "'", run.file("config.json"), "': 'corpus' is '",
             printable(lm.corpus), "', expected text or music");
  lm.context = number("context");
  lm.vocab = number("vocab");
  const double dropout = config_double(run, config, "dropout", 0.0, 1.0);
  Generator init(0);  // the weights are replaced by the run's
  if (lm.kind == "gpt")
    lm.model = std::make_shared<models::GPT>(models::GptConfig{.vocab = lm.vocab,
                                                               .context = lm.context,
                                                               .layers = number("layers"),
                                                               .heads = number("heads"),
                                                               .width = number("width"),
                                                               .dropout = dropout},
                                             init);
  else
    lm.model = std::make_shared<models::CharRNN>(models::CharRnnConfig{.vocab = lm.vocab,
                                                                       .embed = number("embed"),
                                                                       .hidden = number("hidden"),
                                                                       .layers = number("layers"),
                                                                       .dropout = dropout},
                                                 init);
  load_weights(*lm.model, weights_file(run));
  lm.model->to(device);
  lm.model->eval();
  return lm;
}

SentenceVae load_sentence_vae(const RunDir& run, Device device, const std::string& data) {
  const Config config = run.read_config();
  check_model(run, config, "rnnvae");
  SentenceVae s;
  s.data = load_run_data(run, "text", data);
  s.max_len = config_int(run, config, "max_len", 8, kMaxSize);
  Generator init(0);  // the weights are replaced by the run's
  s.vae = std::make_shared<models::RnnVAE>(models::RnnVaeConfig{.vocab = Specials(s.data.vocab).vocab,
                                                                .embed = config_int(run, config, "embed", 1, kMaxSize),
                                                                .hidden = config_int(run, config, "hidden", 1, kMaxSize),
                                                                .latent = config_int(run, config, "latent", 1, kMaxSize)},
                                           init);
  load_weights(*s.vae, weights_file(run));
  s.vae->to(device);
  s.vae->eval();
  return s;
}

std::shared_ptr<models::Classifier> load_classifier(const std::string& run_or_file, Device device) {
  std::string path = run_or_file;
  int64_t classes = 10;
  if (fs::is_directory(path)) {
    RunDir run = RunDir::open(path);
    const Config config = run.read_config();
    check_model(run, config, "classifier");
    if (config.count("classes")) classes = config_int(run, config, "classes", 2, kMaxSize);
    path = weights_file(run);
  }
  auto clf = std::make_shared<models::Classifier>(1, classes);
  load_weights(*clf, path);
  clf->to(device);
  clf->eval();
  return clf;
}

std::string find_trained_classifier() {
  std::string best;
  fs::file_time_type newest{};
  if (!fs::is_directory("runs")) return best;
  for (const auto& entry : fs::directory_iterator("runs")) {
    const fs::path weights = entry.path() / "model.safetensors";
    if (entry.path().filename().string().rfind("classifier", 0) != 0 || !fs::exists(weights)) continue;
    if (best.empty() || fs::last_write_time(weights) > newest) {
      best = weights.string();
      newest = fs::last_write_time(weights);
    }
  }
  return best;
}

}  // namespace kiln::apps
