#include "apps/evaluation.h"

#include <algorithm>

#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "models/frechet.h"

namespace kiln::apps {

double classifier_accuracy(models::Classifier& model, const data::ImageDataset& set, Device device) {
  NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  const int64_t n = set.images.size(0);
  for (int64_t start = 0; start < n; start += 1000) {
    const int64_t count = std::min<int64_t>(1000, n - start);
    Tensor logits = model.forward(set.images.narrow(0, start, count).to(device));
    Tensor hits = eq(argmax(logits, 1), set.labels.narrow(0, start, count).to(device));
    correct += int64_t(sum(hits.to(DType::Float64)).item());
  }
  model.train();
  return double(correct) / double(n);
}

double vae_test_loss(models::ConvVAE& vae, const Tensor& images, Device device, Generator& noise) {
  NoGradGuard no_grad;
  vae.eval();
  double total = 0.0;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += 1000) {
    const int64_t count = std::min<int64_t>(1000, n - start);
    Tensor x = images.narrow(0, start, count).to(device);
    total += models::vae_loss(vae.forward(x, randn({count, vae.latent}, {.device = device}, noise)), x).item();
  }
  vae.train();
  return total / double(n);
}

double generator_frechet_distance(models::Classifier& classifier, const Tensor& real_images,
                                  const std::function<Tensor(int64_t)>& sample, int64_t count, Device device) {
  NoGradGuard no_grad;
  classifier.eval();
  std::vector<Tensor> real, fake;
  for (int64_t start = 0; start < real_images.size(0); start += 1000) {
    const int64_t n = std::min<int64_t>(1000, real_images.size(0) - start);
    real.push_back(classifier.features(real_images.narrow(0, start, n).to(device)).cpu());
  }
  for (int64_t done = 0; done < count; done += 1000) {
    const int64_t n = std::min<int64_t>(1000, count - done);
    fake.push_back(classifier.features(sample(n)).cpu());
  }
  return models::frechet_distance(models::gaussian_stats(cat(real, 0)), models::gaussian_stats(cat(fake, 0)));
}

}  // namespace kiln::apps
