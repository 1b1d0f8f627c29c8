#include "apps/sentence_data.h"

#include <algorithm>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/pinned_memory.h"
#include "models/sampling.h"

namespace kiln::apps {

Sentences sentences_of(const Tensor& stream, int64_t newline, int64_t max_len, const Specials& sp, const char* part,
                       const std::string& corpus) {
  const std::vector<int64_t> ids = stream.to_vector<int64_t>();
  const int64_t T = max_len + 1;
  std::vector<int64_t> targets, inputs;
  size_t start = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    if (i < ids.size() && ids[i] != newline) continue;
    const int64_t n = int64_t(i - start);
    if (n >= 8 && n <= max_len) {
      for (int64_t t = 0; t < T; ++t) {
        targets.push_back(t < n ? ids[start + size_t(t)] : t == n ? sp.eos : sp.pad);
        inputs.push_back(t == 0 ? sp.bos : t <= n ? ids[start + size_t(t) - 1] : sp.pad);
      }
    }
    start = i + 1;
  }
  Sentences s;
  s.count = int64_t(targets.size()) / T;
  KILN_CHECK(s.count > 0, "the ", part, " part of the corpus ", corpus, " has no lines of 8 to ", max_len,
             " symbols, which the sentence VAE ", std::string(part) == "training" ? "trains" : "is evaluated", " on");
  s.targets = from_vector(targets, {s.count, T}, {.dtype = DType::Int64});
  s.inputs = from_vector(inputs, {s.count, T}, {.dtype = DType::Int64});
  return s;
}

std::string decode_sentence(models::RnnVAE& vae, const Tensor& z, const TokenData& data, const Specials& sp,
                            int64_t max_len, double temperature, Device device, Generator& g) {
  NoGradGuard no_grad;
  std::vector<int64_t> inputs = {sp.bos}, text;
  for (int64_t t = 0; t < max_len; ++t) {
    Tensor logits = vae.decode(z, from_vector(inputs, {1, int64_t(inputs.size())}, {.dtype = DType::Int64}).to(device));
    // Only the corpus symbols and EOS may be produced.
    Tensor last = logits.select(0, 0).select(0, int64_t(inputs.size()) - 1).cpu().to(DType::Float64);
    std::vector<double> l = last.to_vector<double>();
    l[size_t(sp.pad)] = l[size_t(sp.bos)] = l[size_t(sp.unk)] = -1e30;
    const int64_t next = models::sample_token(from_vector(l, {sp.vocab}, {.dtype = DType::Float64}), temperature, 0, g);
    if (next == sp.eos) break;
    text.push_back(next);
    inputs.push_back(next);
  }
  return data.text.decode(text);
}

double sentence_vae_loss(models::RnnVAE& vae, const Sentences& sentences, const Specials& sp, int64_t max_count,
                         Device device, Generator& noise, double* kl) {
  NoGradGuard no_grad;
  const CrossEntropyOptions ce{.ignore_index = sp.pad, .reduction = Reduction::Sum};
  const int64_t n = std::min(max_count, sentences.count);
  KILN_CHECK(n > 0, "sentence_vae_loss: no sentences");
  double rec = 0.0, kl_sum = 0.0;
  for (int64_t start = 0; start < n; start += 512) {
    const int64_t b = std::min<int64_t>(512, n - start);
    Tensor x = upload(sentences.targets.narrow(0, start, b).contiguous(), device);
    auto [mu, logvar] = vae.encode(x);
    Tensor z = add(mu, mul(randn(mu.shape(), {.device = device}, noise), exp(mul(logvar, 0.5))));
    Tensor logits = vae.decode(z, upload(sentences.inputs.narrow(0, start, b).contiguous(), device));
    rec += cross_entropy(logits.reshape({-1, sp.vocab}), x.reshape({-1}), ce).item();
    kl_sum += gaussian_kl(mu, logvar).item();
  }
  if (kl) *kl = kl_sum / double(n);
  return (rec + kl_sum) / double(n);
}

}  // namespace kiln::apps
