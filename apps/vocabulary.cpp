#include "apps/vocabulary.h"

#include <array>
#include <cstdio>
#include <vector>

#include "apps/run_models.h"
#include "core/error.h"
#include "data/midi_tokens.h"

namespace kiln::apps {
namespace {

const char* kHex = "0123456789abcdef";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A byte as a message shows it: 0x41 ('A'), or 0x0a for a control character.
std::string byte_text(uint8_t b) {
  char text[24];
  if (b >= 0x20 && b < 0x7f)
    std::snprintf(text, sizeof text, "0x%02x ('%c')", b, char(b));
  else
    std::snprintf(text, sizeof text, "0x%02x", b);
  return text;
}

}  // namespace

std::string symbols_text(const data::TextCorpus& text) {
  std::string s;
  for (uint8_t b : text.vocabulary) s += {kHex[b >> 4], kHex[b & 15]};
  return s;
}

namespace {

// The run's recorded byte values ("symbols"), strictly increasing, and as many as its model's "vocab".
std::vector<uint8_t> recorded_symbols(const RunDir& run, const Config& config, int64_t vocab) {
  const std::string& hex = config.at("symbols");
  std::vector<uint8_t> symbols;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]), lo = i + 1 < hex.size() ? hex_digit(hex[i + 1]) : -1;
    KILN_CHECK(hi >= 0 && lo >= 0 && (symbols.empty() || uint8_t(hi * 16 + lo) > symbols.back()), "'",
               run.file("config.json"), "': 'symbols' is not a list of increasing byte values in hex (at character ",
               i, ")");
    symbols.push_back(uint8_t(hi * 16 + lo));
  }
  KILN_CHECK(int64_t(symbols.size()) == vocab, "'", run.file("config.json"), "': 'symbols' holds ", symbols.size(),
             " byte values, but 'vocab' says ", vocab);
  return symbols;
}

}  // namespace

void use_vocabulary_of(const RunDir& run, TokenData& d) {
  const Config config = run.read_config();
  const int64_t vocab = config.count("vocab") ? config_int(run, config, "vocab", 1, 1 << 20) : d.vocab;
  if (d.corpus != "text" || !config.count("symbols")) {
    KILN_CHECK(d.vocab == vocab, "run '", run.path(), "' was trained on ", vocab, " symbols, but ", d.description,
               " has ", d.vocab, ": use it with the data it was trained on (--data)");
    return;
  }
  const std::vector<uint8_t> symbols = recorded_symbols(run, config, vocab);
  // The data's ids → the run's ids (−1: a byte the run never saw).
  std::array<int64_t, 256> run_id;
  run_id.fill(-1);
  for (size_t i = 0; i < symbols.size(); ++i) run_id[symbols[i]] = int64_t(i);
  auto reencode = [&](const Tensor& ids) {
    std::vector<int64_t> v = ids.to_vector<int64_t>();
    for (int64_t& id : v) {
      const uint8_t b = d.text.vocabulary[size_t(id)];
      KILN_CHECK(run_id[b] >= 0, d.description, " holds the byte ", byte_text(b), ", which run '", run.path(),
                 "' never saw in training (its vocabulary has ", vocab, " symbols)");
      id = run_id[b];
    }
    return from_vector(v, {int64_t(v.size())}, {.dtype = DType::Int64});
  };
  d.train = d.text.train = reencode(d.train);
  d.validation = d.text.validation = reencode(d.validation);
  d.text.build_vocabulary(symbols);
  d.vocab = vocab;
}

TokenData vocabulary_of(const RunDir& run, const std::string& corpus) {
  const Config config = run.read_config();
  if (corpus == "text" && !config.count("symbols")) return load_run_data(run, corpus, "");
  TokenData d;
  d.corpus = corpus;
  d.vocab = config_int(run, config, "vocab", 1, 1 << 20);
  d.train = d.validation = from_vector(std::vector<int64_t>{}, {0}, {.dtype = DType::Int64});
  if (corpus == "text") {
    d.text.build_vocabulary(recorded_symbols(run, config, d.vocab));
    d.description = "the vocabulary of run '" + run.path() + "'";
  } else {
    KILN_CHECK(d.vocab == data::midi_tokens::kVocabularySize, "'", run.file("config.json"), "': 'vocab' is ", d.vocab,
               ", but kiln's music tokens number ", data::midi_tokens::kVocabularySize);
    d.description = "music event tokens";
  }
  return d;
}

}  // namespace kiln::apps
