#include "apps/train_seq.h"

#include <algorithm>

#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/pinned_memory.h"
#include "core/serialization/atomic_file.h"
#include "data/midi.h"
#include "data/midi_tokens.h"
#include "data/fluidsynth_render.h"
#include "data/wav.h"
#include "models/sampling.h"

namespace kiln::apps {

double validation_loss(UnaryModule& model, const Tensor& stream, int64_t context, int64_t vocab, Device device,
                       int64_t max_windows) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t windows = std::min(max_windows, (stream.numel() - 1) / context);
  double total = 0.0;
  for (int64_t start = 0; start < windows; start += 64) {
    const int64_t n = std::min<int64_t>(64, windows - start);
    Tensor x = stream.narrow(0, start * context, n * context).view({n, context});
    Tensor y = stream.narrow(0, start * context + 1, n * context).view({n, context});
    Tensor logits = model.forward(upload(x.contiguous(), device));
    total += cross_entropy(logits.reshape({n * context, vocab}), upload(y.contiguous(), device).reshape({-1}),
                           {.reduction = Reduction::Sum})
                 .item();
  }
  model.train();
  return total / double(windows * context);
}

std::vector<int64_t> generate(UnaryModule& model, std::vector<int64_t> tokens, int64_t count, int64_t context,
                              double temperature, int64_t top_k, Device device, Generator& g) {
  NoGradGuard no_grad;
  model.eval();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = std::min<int64_t>(context, int64_t(tokens.size()));
    std::vector<int64_t> window(tokens.end() - n, tokens.end());
    Tensor logits = model.forward(from_vector(window, {1, n}, {.dtype = DType::Int64}).to(device));
    tokens.push_back(models::sample_token(logits.select(0, 0).select(0, n - 1), temperature, top_k, g));
  }
  model.train();
  return tokens;
}

std::vector<int64_t> sample_prompt(const TokenData& data) {
  if (data.corpus != "text") return {data::midi_tokens::kVelocity + 16};
  if (data.text.id_of('\n') >= 0) return {data.text.id_of('\n')};
  return {data.train.numel() > 0 ? data.train.to_vector<int64_t>()[0] : 0};
}

WrittenSample write_token_sample(const std::string& stem, const TokenData& data, const std::vector<int64_t>& tokens) {
  WrittenSample written;
  if (data.corpus == "text") {
    written.text = data.text.decode(tokens);
    write_file_atomically(stem + ".txt", written.text.data(), written.text.size());
    written.files = {stem + ".txt"};
    return written;
  }
  std::vector<data::Note> notes = data::decode_tokens(std::vector<int32_t>(tokens.begin(), tokens.end()));
  data::write_midi(stem + ".mid", data::notes_to_midi(notes));
  data::write_wav(stem + ".wav", data::render_notes(notes, 22050, &written.renderer), 22050);
  written.files = {stem + ".mid", stem + ".wav"};
  written.notes = notes.size();
  return written;
}

}  // namespace kiln::apps
