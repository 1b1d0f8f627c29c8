// kiln train vae: the convolutional VAE (models/vae.h) on Fashion-MNIST with Adam; the loss is the
// negative ELBO summed over the batch (BCE-with-logits over pixels + KL), reported per image, with the
// test-set loss after every epoch. Samples: decoded z ~ N(0, I), and test images beside their
// reconstructions.
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
#include "core/cuda_graph.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "models/vae.h"
#include "optim/optimizer.h"

namespace kiln::apps {

int train_vae(int argc, char** argv, int first) {
  cli::Args args = train_args(argc, argv, first, "vae");
  TrainOptions defaults;
  defaults.model = "vae";
  defaults.batch = 128;
  defaults.lr = 1e-3;
  TrainOptions o = parse_train_options(args, defaults);
  const bool graph = use_cuda_graph(o, "");  // every batch has the same shape (the loader drops a last, smaller one)
  const int64_t latent = args.get_int("latent", 32, 1, 4096);
  ImageData data = load_image_data(o.data, o.limit, false, {.size = 28, .channels = 1});
  if (o.batch > 0) check_batch_fits(o.batch, data.train.images.size(0), data.description);  // (auto: at most that)
  {  // memory: a step of a throwaway VAE, measured (core/memory_estimate.h); before any run folder exists
    // Built outside the measured step (building allocates its own peak); gradients freed before each step.
    Generator throwaway(0);  // not the run's generator: its draws initialize the real VAE below
    models::ConvVAE copy(latent, data.train.images.size(1), throwaway);
    copy.to(o.device);
    const BatchStep probe = [&](int64_t batch) {
      copy.zero_grad();
      const Tensor x = data.train.images.slice(0, 0, std::min<int64_t>(batch, data.train.images.size(0))).to(o.device);
      models::vae_loss(copy.forward(x, randn({x.size(0), latent}, {.device = o.device}, throwaway)), x).backward();
      copy.zero_grad();  // the next measurement starts from the same level
    };
    settle_batch(o, probe, data.train.images.size(0), uint64_t(copy.parameter_count()) * 2 * sizeof(float));  // Adam
  }
  const int64_t per_epoch = data.train.images.size(0) / o.batch;
  // Test images beside their reconstructions: up to four whole rows of 8 (one shorter row when a small
  // folder of pictures holds out fewer than 8).
  const int64_t row = std::min<int64_t>(8, data.test.images.size(0));
  const int64_t shown = std::min<int64_t>(32, data.test.images.size(0)) / row * row;
  if (o.epochs == 0 && !args.has("steps")) o.epochs = o.device.is_cuda() ? 10 : 2;
  if (o.epochs > 0) o.steps = o.epochs * per_epoch;

  Generator rng(o.seed);
  models::ConvVAE vae(latent, data.train.images.size(1), rng);
  vae.to(o.device);
  Adam optimizer(vae.parameters(), o.lr);
  data::DataLoader loader({data.train.images}, {.batch_size = o.batch, .seed = o.seed, .device = o.device});
  Generator noise(o.seed + 1);
  const Tensor fixed_z = randn({64, latent}, {.device = o.device}, noise);
  Resumable state;
  state.modules = {{"vae", &vae}};
  state.optimizers = {{"adam", &optimizer}};
  state.generators = {{"noise", &noise}};
  state.loader = &loader;
  state.learning_rate = o.lr;
  TrainingRun run(o, "conv VAE on " + data.description,
                  {{"latent", std::to_string(latent)},
                   {"channels", std::to_string(data.train.images.size(1))},
                   {"parameters", std::to_string(vae.parameter_count())}}, "img", state);
  const Tensor originals = data.test.images.narrow(0, 0, shown).to(o.device);
  // The training step: forward, backward, update. With a CUDA graph it reads its batch from `x`, which
  // keeps its memory (each batch is copied in), and leaves its loss in `loss`, rewritten by each replay.
  Tensor x, loss;
  CapturedStep train_step(o.device, [&] {
    loss = models::vae_loss(vae.forward(x, randn({o.batch, latent}, {.device = o.device}, noise)), x);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  });
  if (!graph) train_step.disable("--cuda-graph off");
  bool graph_note_printed = false;
  for (int64_t step = run.first_step(); step <= o.steps; ++step) {
    Tensor batch = loader.next()[0];
    if (graph && x.defined() && x.shape() == batch.shape()) {
      NoGradGuard no_grad;
      x.copy_(batch);
    } else {  // the first batch, or another shape: a graph captured with the old `x` must not be replayed
      x = graph ? batch.clone() : batch;
      train_step.reset();
    }
    train_step.run(shape_str(x.shape()));
    if (graph && !graph_note_printed && !train_step.unsupported_reason().empty()) {  // a capture failed
      std::printf("kiln: CUDA graph off: %s\n", train_step.unsupported_reason().c_str());
      std::fflush(stdout);
      graph_note_printed = true;
    }
    run.accumulate("loss_per_image", div(loss, double(o.batch)));
    if (!run.step_done(step, loader.position().epoch, o.batch)) {  // a diverged step was undone (--on-nan)
      train_step.reset();  // the restored state lives in new tensors: capture again
      continue;
    }
    if (step % per_epoch == 0 || step == o.steps) {
      const double test = vae_test_loss(vae, data.test.images, o.device, noise);
      run.log(step, {{"test_loss_per_image", test}});
      char text[64];
      std::snprintf(text, sizeof text, "%.2f nats", test);
      run.report().results = {{"test loss per image (negative ELBO)", text}};
      save_weights(vae, run.dir().file("model.safetensors"), {{"model", "vae"}});
    }
    if (run.due(step, o.sample_every)) {
      NoGradGuard no_grad;
      vae.eval();
      Tensor samples = sigmoid(vae.decode(fixed_z));
      Tensor recon = sigmoid(vae.forward(originals, zeros({shown, latent}, {.device = o.device})).logits);
      vae.train();
      // Rows of test images, each followed by its reconstructions.
      std::vector<Tensor> rows;
      for (int64_t r = 0; r < shown / row; ++r) {
        rows.push_back(originals.narrow(0, row * r, row));
        rows.push_back(recon.narrow(0, row * r, row));
      }
      const std::string grid = run.dir().sample_stem(step) + ".png";
      data::save_image_grid(grid, samples, {.nrow = 8});
      data::save_image_grid(run.dir().file("samples/reconstructions.png"), cat(rows, 0), {.nrow = int(row)});
      run.report().images = {{"samples z ~ N(0, I), step " + std::to_string(step), grid},
                             {"test images (odd rows) and reconstructions (even rows)",
                              run.dir().file("samples/reconstructions.png")}};
      run.write_report();
    }
    if (!run.end_of_step(step, state)) break;  // a checkpoint when due, or after Ctrl-C
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
