// A text run's vocabulary. A character-level model knows its symbols by id (the byte values of its corpus
// in increasing order), so the run records them in config.json ("symbols", the byte values in hex), and
// sampling, evaluation and resuming use those ids whatever data they are given: a changed or different
// corpus then gives the model the ids it was trained with, or an error naming the byte it has never seen,
// instead of silently wrong ids.
#pragma once
#include <string>

#include "apps/run_dir.h"
#include "apps/token_data.h"

namespace kiln::apps {

// The "symbols" config entry of a text corpus: two hex digits per byte value, in id order ("0a202c…").
std::string symbols_text(const data::TextCorpus& text);

// Re-encodes token data `d` in the ids of `run`'s model. Music data and runs without "symbols" (made
// before kiln recorded them) are only checked: the vocabulary must have the size the model has.
void use_vocabulary_of(const RunDir& run, TokenData& d);

// What sampling `run` needs of its data: the vocabulary alone, without reading any corpus (music's is
// fixed; text's is the recorded "symbols"). Text runs made before kiln recorded symbols read their corpus.
TokenData vocabulary_of(const RunDir& run, const std::string& corpus);

}  // namespace kiln::apps
