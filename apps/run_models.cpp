#include "apps/run_models.h"

#include <filesystem>

#include "apps/model_io.h"
#include "apps/sentence_data.h"
#include "core/error.h"
#include "models/char_rnn.h"
#include "models/gpt.h"

namespace kiln::apps {
namespace fs = std::filesystem;

std::string config_value(const RunDir& run, const Config& config, const std::string& key) {
  auto it = config.find(key);
  KILN_CHECK(it != config.end(), "'", run.file("config.json"), "' has no '", key, "'");
  return it->second;
}

namespace {

void check_model(const RunDir& run, const Config& config, const std::string& expected) {
  const std::string model = config_value(run, config, "model");
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
  c.latent = std::stoll(config_value(run, config, "latent"));
  c.g_features = c.d_features = std::stoll(config_value(run, config, "features"));
  c.channels = std::stoll(config_value(run, config, "channels"));
  c.image_size = std::stoll(config_value(run, config, "image_size"));
  auto g = std::make_shared<models::DcganGenerator>(c);
  load_weights(*g, weights_file(run));
  g->to(device);
  g->eval();
  return g;
}

std::shared_ptr<models::ConvVAE> load_vae(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "vae");
  auto vae = std::make_shared<models::ConvVAE>(std::stoll(config_value(run, config, "latent")),
                                              std::stoll(config_value(run, config, "channels")));
  load_weights(*vae, weights_file(run));
  vae->to(device);
  vae->eval();
  return vae;
}

LanguageModel load_language_model(const RunDir& run, Device device) {
  const Config config = run.read_config();
  LanguageModel lm;
  lm.kind = config_value(run, config, "model");
  KILN_CHECK(lm.kind == "gpt" || lm.kind == "charrnn", "run '", run.path(), "' trained a ", lm.kind,
             ", not a language model (gpt or charrnn)");
  auto number = [&](const std::string& key) { return std::stoll(config_value(run, config, key)); };
  lm.corpus = config_value(run, config, "corpus");
  lm.data = config_value(run, config, "data");
  lm.context = number("context");
  lm.vocab = number("vocab");
  const double dropout = std::stod(config_value(run, config, "dropout"));
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

SentenceVae load_sentence_vae(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "rnnvae");
  SentenceVae s;
  s.data = load_token_data("text", config_value(run, config, "data"));
  s.max_len = std::stoll(config_value(run, config, "max_len"));
  Generator init(0);  // the weights are replaced by the run's
  s.vae = std::make_shared<models::RnnVAE>(models::RnnVaeConfig{.vocab = Specials(s.data.vocab).vocab,
                                                                .embed = std::stoll(config_value(run, config, "embed")),
                                                                .hidden = std::stoll(config_value(run, config, "hidden")),
                                                                .latent = std::stoll(config_value(run, config, "latent"))},
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
    if (config.count("classes")) classes = std::stoll(config.at("classes"));
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
