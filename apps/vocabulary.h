// A text run's vocabulary. A character-level model knows its symbols by id (the byte values of its corpus
// in increasing order), so the run records them in config.json ("symbols", the byte values in hex), and
// sampling, evaluation and resuming re-encode whatever data they are given with those ids: a changed or
// different corpus then gives the model the ids it was trained with, or an error naming the byte it has
// never seen, instead of silently wrong ids.
#pragma once
#include <string>

#include "apps/run_dir.h"
#include "apps/token_data.h"

namespace kiln::apps {

// The "symbols" config entry of a text corpus: two hex digits per byte value, in id order ("0a202c…").
std::string symbols_text(const data::TextCorpus& text);

// Re-encodes text data `d` with the vocabulary recorded in `run`'s config. Music data and runs without
// "symbols" (made before kiln recorded them) are only checked: the vocabulary must have `vocab` symbols.
void use_run_vocabulary(TokenData& d, const RunDir& run, const Config& config, int64_t vocab);

}  // namespace kiln::apps
