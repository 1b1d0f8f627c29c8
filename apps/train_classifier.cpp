// kiln train classifier: the CNN of models/classifier.h on Fashion-MNIST with Adam, cross-entropy,
// test accuracy after every epoch; its weights (model.safetensors) are the feature extractor of the
// Fréchet distance that `kiln eval` reports for image generators.
#include <algorithm>
#include <cstdio>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/evaluation.h"
#include "apps/image_data.h"
#include "apps/model_io.h"
#include "apps/resumable.h"
#include "apps/training_run.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "data/loader.h"
#include "models/classifier.h"
#include "optim/optimizer.h"

namespace kiln::apps {

int train_classifier(int argc, char** argv, int first) {
  cli::Args args = train_args(argc, argv, first, "classifier");
  TrainOptions defaults;
  defaults.model = "classifier";
  defaults.batch = 128;
  defaults.lr = 1e-3;
  TrainOptions o = parse_train_options(args, defaults);
  use_cuda_graph(o, "kiln train classifier does not capture its step yet (CUDA graphs: docs/cuda.md)");  // one trainer so far: vae
  ImageData data = load_image_data(o.data, o.limit, false, {.size = 28, .channels = 1});
  if (o.batch > 0) check_batch_fits(o.batch, data.train.images.size(0), data.description);  // (auto: at most that)
  check_test_labels(data);
  check_picture_classes(data);
  // 10 classes for Fashion-MNIST; an image folder has one per subfolder (at least 2).
  const int64_t classes = std::max<int64_t>(10, int64_t(amax(data.train.labels.to(DType::Float64)).item()) + 1);
  {  // memory: a step of a throwaway classifier, measured (core/memory_estimate.h); before any run folder exists
    // Built outside the measured step (building allocates its own peak); gradients freed before each step.
    Generator throwaway(0);  // not the run's generator: its draws initialize the real classifier below
    models::Classifier copy(data.train.images.size(1), classes, throwaway);
    copy.to(o.device);
    const BatchStep probe = [&](int64_t batch) {
      copy.zero_grad();
      const int64_t n = std::min<int64_t>(batch, data.train.images.size(0));
      cross_entropy(copy.forward(data.train.images.slice(0, 0, n).to(o.device)),
                    data.train.labels.slice(0, 0, n).to(o.device)).backward();
      copy.zero_grad();  // the next measurement starts from the same level
    };
    settle_batch(o, probe, data.train.images.size(0), uint64_t(copy.parameter_count()) * 2 * sizeof(float));  // Adam
  }
  const int64_t per_epoch = data.train.images.size(0) / o.batch;
  if (o.epochs == 0 && !args.has("steps")) o.epochs = 10;
  if (o.epochs > 0) o.steps = o.epochs * per_epoch;

  Generator init(o.seed);
  models::Classifier model(data.train.images.size(1), classes, init);
  model.to(o.device);
  Adam optimizer(model.parameters(), o.lr);
  data::DataLoader loader({data.train.images, data.train.labels},
                          {.batch_size = o.batch, .seed = o.seed, .device = o.device});
  Resumable state;
  state.modules = {{"classifier", &model}};
  state.optimizers = {{"adam", &optimizer}};
  state.loader = &loader;
  state.learning_rate = o.lr;
  TrainingRun run(o, "classifier on " + data.description,
                  {{"parameters", std::to_string(model.parameter_count())}, {"classes", std::to_string(classes)}}, "img", state);
  double best = 0.0;  // the best test accuracy so far (also of the run before a resume)
  for (const report::Series& s : run.dir().series())
    if (s.name == "test_accuracy")
      for (auto [step, accuracy] : s.points) best = std::max(best, accuracy);
  for (int64_t step = run.first_step(); step <= o.steps; ++step) {
    std::vector<Tensor> batch = loader.next();
    Tensor loss = cross_entropy(model.forward(batch[0]), batch[1]);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    run.accumulate("loss", loss);
    if (!run.step_done(step, loader.position().epoch, o.batch)) continue;  // a diverged step was undone (--on-nan)
    if (step % per_epoch == 0 || step == o.steps) {
      const double accuracy = classifier_accuracy(model, data.test, o.device);
      run.log(step, {{"test_accuracy", accuracy}});
      if (accuracy >= best) {
        best = accuracy;
        save_weights(model, run.dir().file("model.safetensors"), {{"model", "classifier"}});
      }
      char text[64];
      std::snprintf(text, sizeof text, "%.2f%% (best %.2f%%)", 100 * accuracy, 100 * best);
      run.report().results = {{"test accuracy", text}};
      run.write_report();
    }
    if (!run.end_of_step(step, state)) break;  // a checkpoint when due, or after Ctrl-C
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
