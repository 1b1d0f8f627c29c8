// The numbers `kiln train` logs and `kiln eval` reports: classifier accuracy, the VAE's test loss,
// and the Fréchet distance of generated images to the real test set on the kiln classifier's features.
#pragma once
#include <functional>

#include "core/random.h"
#include "data/idx.h"
#include "models/classifier.h"
#include "models/vae.h"

namespace kiln::apps {

// Fraction of correctly classified images (eval mode; the model is put back in train mode).
double classifier_accuracy(models::Classifier& model, const data::ImageDataset& set, Device device);
// Mean negative ELBO per image with fresh noise.
double vae_test_loss(models::ConvVAE& vae, const Tensor& images, Device device, Generator& noise);
// Fréchet distance between `count` generated images (sample(n) returns n images in [0, 1]) and the
// real images, on the classifier's penultimate features.
double generator_frechet_distance(models::Classifier& classifier, const Tensor& real_images,
                                  const std::function<Tensor(int64_t)>& sample, int64_t count, Device device);

}  // namespace kiln::apps
