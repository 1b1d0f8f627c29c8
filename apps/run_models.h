// Rebuilding a run's model from its folder: the architecture from config.json, the weights from
// model.safetensors, on the requested device, in eval mode (for kiln sample and kiln eval).
#pragma once
#include <memory>
#include <string>

#include "apps/run_dir.h"
#include "core/device.h"
#include "models/classifier.h"
#include "apps/token_data.h"
#include "models/dcgan.h"
#include "models/rnn_vae.h"
#include "layers/module.h"
#include "models/vae.h"

namespace kiln::apps {

// The config value `key`, or an error naming the run folder.
std::string config_value(const RunDir& run, const Config& config, const std::string& key);
// The run's "model", one that `kiln train` makes, or an error naming config.json and the value.
std::string run_model(const RunDir& run, const Config& config);
// The config value `key` as a number in [lo, hi], or an error naming config.json, the key and the value.
int64_t config_int(const RunDir& run, const Config& config, const std::string& key, int64_t lo, int64_t hi);
double config_double(const RunDir& run, const Config& config, const std::string& key, double lo, double hi);

// A sequence run's token data: its own (config "data"), or `path` instead when given, in the ids the
// run's model was trained with (apps/vocabulary.h).
TokenData load_run_data(const RunDir& run, const std::string& corpus, const std::string& path);

// The sizes config.json gives (hidden, width, layers, latent, ...) against the shapes in the run's
// model.safetensors, before any model is built from them: an edited `hidden: 100000` is an error naming
// config.json and the key, not a 14 GB allocation. Nothing to check while the run has no weights file.
// The load_* functions below check the same first.
void check_config_against_weights(const RunDir& run, const Config& config);

std::shared_ptr<models::DcganGenerator> load_dcgan_generator(const RunDir& run, Device device);
std::shared_ptr<models::ConvVAE> load_vae(const RunDir& run, Device device);
// A language model run (gpt or charrnn): the network, and what it reads.
struct LanguageModel {
  std::shared_ptr<UnaryModule> model;
  std::string kind;     // "gpt" or "charrnn"
  std::string corpus;   // "text" or "music"
  int64_t context = 0;  // tokens per window
  int64_t vocab = 0;
};
LanguageModel load_language_model(const RunDir& run, Device device);
// A sentence VAE run (rnnvae), with the sentences of its corpus, or of `data` instead when given.
struct SentenceVae {
  std::shared_ptr<models::RnnVAE> vae;
  TokenData data;
  int64_t max_len = 0;
};
SentenceVae load_sentence_vae(const RunDir& run, Device device, const std::string& data = "");
// A classifier's weights from a run folder or a .safetensors file.
std::shared_ptr<models::Classifier> load_classifier(const std::string& run_or_file, Device device);
// The newest runs/classifier-*/model.safetensors, or "" when there is none.
std::string find_trained_classifier();

}  // namespace kiln::apps
