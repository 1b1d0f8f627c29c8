#include "apps/token_data.h"

#include "apps/cli_args.h"
#include "apps/data_messages.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "data/midi_corpus.h"
#include "data/midi_tokens.h"

namespace kiln::apps {

TokenData load_token_data(const std::string& corpus, const std::string& path) {
  TokenData d;
  d.corpus = corpus;
  if (corpus == "text") {
    d.text = data::load_text_corpus(path.empty() ? data::kFortunesDir : path);
    print_skipped(d.text.skipped);  // not the fortune index files (.dat): the description counts them
    d.train = d.text.train;
    d.validation = d.text.validation;
    d.vocab = d.text.vocabulary_size();
    d.description = (path.empty() ? std::string("fortunes") : path) + " (" + std::to_string(d.text.bytes) +
                    " bytes, " + std::to_string(d.vocab) + " symbols; " +
                    counted(int64_t(d.text.skipped.size() + d.text.index_files.size()), "index or non-text file",
                            "index or non-text files") + " skipped)";
  } else if (corpus == "music") {
    data::MidiCorpus m = data::load_midi_corpus(path.empty() ? data::kDefaultMidiPaths : std::vector<std::string>{path});
    print_skipped(m.skipped);
    d.train = m.train;
    d.validation = m.validation;
    d.vocab = data::midi_tokens::kVocabularySize;
    d.description = (path.empty() ? std::string("Debian MIDI music") : path) + " (" +
                    counted(int64_t(m.files.size()), "piece", "pieces") + ", " + std::to_string(m.tokens) +
                    " event tokens, " + counted(int64_t(m.skipped.size()), "file", "files") + " skipped)";
  } else {
    throw cli::UsageError("--corpus " + corpus + ": expected text or music");
  }
  return d;
}

std::pair<Tensor, Tensor> random_windows(const Tensor& stream, int64_t batch, int64_t length, Generator& generator) {
  const int64_t n = stream.numel();
  KILN_CHECK(n >= length + 1, "the token stream (", n, " tokens) is shorter than one window of ", length + 1);
  // window b covers stream[start_b … start_b + T]
  const std::vector<int64_t> starts =
      randint(0, n - length, {batch}, {.dtype = DType::Int64}, generator).to_vector<int64_t>();  // starts 0 … n−T−1
  std::vector<int64_t> index;
  index.reserve(size_t(batch * (length + 1)));
  for (int64_t s : starts)
    for (int64_t t = 0; t <= length; ++t) index.push_back(s + t);
  Tensor windows = index_select(stream, 0, from_vector(index, {int64_t(index.size())}, {.dtype = DType::Int64}))
                       .view({batch, length + 1});
  return {windows.narrow(1, 0, length).contiguous(), windows.narrow(1, 1, length).contiguous()};
}

}  // namespace kiln::apps
