#include "apps/run_models.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

#include "apps/cli_args.h"
#include "apps/model_io.h"
#include "apps/sentence_data.h"
#include "apps/train_options.h"
#include "apps/vocabulary.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/serialization/safetensors.h"
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

// A size in config.json that the weights file fixes: `key` times `factor` is dimension `dim` of `tensor`.
struct SizeRule {
  std::string key;
  std::string tensor;
  int64_t dim;
  int64_t factor = 1;
};
// A count in config.json that the weights file fixes: the number of distinct N in tensor names "<prefix>N...".
struct CountRule {
  std::string key;
  std::string prefix;
};

int64_t count_indices(const SafetensorsFile& file, const std::string& prefix) {
  std::set<std::string> indices;
  for (const auto& [name, tensor] : file.tensors)
    if (name.rfind(prefix, 0) == 0) {
      const size_t end = name.find_first_not_of("0123456789", prefix.size());
      if (end != prefix.size()) indices.insert(name.substr(prefix.size(), end - prefix.size()));
    }
  return int64_t(indices.size());
}

// Checks the sizes config.json gives against the shapes in the run's weights file, BEFORE the model is
// built: a config.json edited to `hidden: 100000` would otherwise allocate gigabytes for a model whose
// weights then do not fit it. Returns the weights file's path.
std::string check_sizes_against_weights(const RunDir& run, const Config& config, const std::vector<SizeRule>& sizes,
                                        const std::vector<CountRule>& counts = {}) {
  const std::string path = weights_file(run);
  const SafetensorsFile file = load_safetensors(path);
  const std::string edited = "; was config.json edited? (the weights decide the model's sizes)";
  for (const SizeRule& rule : sizes) {
    const int64_t value = config_int(run, config, rule.key, 1, kMaxSize);
    KILN_CHECK(file.contains(rule.tensor), "'", path, "' has no tensor '", rule.tensor, "', which a ",
               config_value(run, config, "model"), " with the sizes of '", run.file("config.json"), "' has");
    const Tensor& t = file.at(rule.tensor);
    KILN_CHECK(t.dim() > rule.dim && t.size(rule.dim) == value * rule.factor, "'", run.file("config.json"), "': '",
               rule.key, "' is ", value, ", but the weights in '", path, "' were trained with another size ('",
               rule.tensor, "' has shape ", shape_str(t.shape()), ")", edited);
  }
  for (const CountRule& rule : counts) {
    const int64_t value = config_int(run, config, rule.key, 1, kMaxSize), found = count_indices(file, rule.prefix);
    KILN_CHECK(value == found, "'", run.file("config.json"), "': '", rule.key, "' is ", value, ", but the weights in '",
               path, "' hold ", found, " (tensors '", rule.prefix, "N...')", edited);
  }
  return path;
}

// The sizes of `model`'s config.json that its weights fix, checked (see check_sizes_against_weights).
std::string check_model_sizes(const RunDir& run, const Config& config, const std::string& model) {
  if (model == "dcgan") {
    // The first layer is a transposed convolution [latent, features × 4 (28×28) or × 8 (64×64), k, k].
    const int64_t widen = config_int(run, config, "image_size", 28, 64) == 28 ? 4 : 8;
    return check_sizes_against_weights(run, config, {{"latent", "net.0.weight", 0}, {"features", "net.0.weight", 1, widen}});
  }
  if (model == "vae") return check_sizes_against_weights(run, config, {{"latent", "mu.weight", 0}});
  if (model == "gpt")
    return check_sizes_against_weights(
        run, config, {{"vocab", "wte.weight", 0}, {"width", "wte.weight", 1}, {"context", "wpe.weight", 0}},
        {{"layers", "blocks."}});
  if (model == "charrnn")
    return check_sizes_against_weights(
        run, config, {{"vocab", "emb.weight", 0}, {"embed", "emb.weight", 1}, {"hidden", "head.weight", 1}},
        {{"layers", "rnn.weight_ih_l"}});
  if (model == "rnnvae")
    return check_sizes_against_weights(
        run, config, {{"embed", "emb.weight", 1}, {"hidden", "head.weight", 1}, {"latent", "mu.weight", 0}});
  return weights_file(run);
}

}  // namespace

void check_config_against_weights(const RunDir& run, const Config& config) {
  if (!fs::exists(run.file("model.safetensors"))) return;
  check_model_sizes(run, config, config_value(run, config, "model"));
}

std::shared_ptr<models::DcganGenerator> load_dcgan_generator(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "dcgan");
  models::DcganConfig c;
  c.latent = config_int(run, config, "latent", 1, kMaxSize);
  c.g_features = c.d_features = config_int(run, config, "features", 1, kMaxSize);
  c.channels = config_int(run, config, "channels", 1, 3);
  c.image_size = config_int(run, config, "image_size", 28, 64);
  const std::string weights = check_model_sizes(run, config, "dcgan");
  auto g = std::make_shared<models::DcganGenerator>(c);
  load_weights(*g, weights);
  g->to(device);
  g->eval();
  return g;
}

std::shared_ptr<models::ConvVAE> load_vae(const RunDir& run, Device device) {
  const Config config = run.read_config();
  check_model(run, config, "vae");
  const std::string weights = check_model_sizes(run, config, "vae");
  auto vae = std::make_shared<models::ConvVAE>(config_int(run, config, "latent", 1, kMaxSize),
                                              config_int(run, config, "channels", 1, 3));
  load_weights(*vae, weights);
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
  const std::string weights = check_model_sizes(run, config, lm.kind);
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
  load_weights(*lm.model, weights);
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
  const std::string weights = check_model_sizes(run, config, "rnnvae");
  Generator init(0);  // the weights are replaced by the run's
  s.vae = std::make_shared<models::RnnVAE>(models::RnnVaeConfig{.vocab = Specials(s.data.vocab).vocab,
                                                                .embed = config_int(run, config, "embed", 1, kMaxSize),
                                                                .hidden = config_int(run, config, "hidden", 1, kMaxSize),
                                                                .latent = config_int(run, config, "latent", 1, kMaxSize)},
                                           init);
  load_weights(*s.vae, weights);
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
