// kiln train dcgan: DCGAN (models/dcgan.h) on Fashion-MNIST (pixels in [-1, 1]). Each step trains the
// discriminator on a real and a generated batch, then the generator against it, with the non-saturating
// loss (BCE-with-logits, generator targets "real"), Adam(2e-4, β = (0.5, 0.999)) for both, and keeps
// an exponential moving average of the generator's weights, which the samples are drawn from.
#include <cstdio>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/image_data.h"
#include "apps/model_io.h"
#include "apps/resumable.h"
#include "apps/training_run.h"
#include "core/autograd/grad_mode.h"
#include "core/memory_estimate.h"
#include "core/ops/ops.h"
#include "core/random.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "models/dcgan.h"
#include "optim/ema.h"
#include "optim/optimizer.h"

namespace kiln::apps {

int train_dcgan(int argc, char** argv, int first) {
  cli::Args args = train_args(argc, argv, first, "dcgan");
  TrainOptions defaults;
  defaults.model = "dcgan";
  defaults.batch = 128;
  defaults.lr = 2e-4;
  defaults.sample_every = 200;
  TrainOptions o = parse_train_options(args, defaults);
  use_cuda_graph(o, "kiln train dcgan does not capture its step yet (CUDA graphs: docs/cuda.md)");  // one trainer so far: vae
  models::DcganConfig config;
  config.latent = args.get_int("latent", 100, 1, 4096);
  // On the CPU the defaults make a short run that still shows garments: half-width networks, batch 64,
  // 400 steps, and a faster-moving weight average. On a GPU: the paper's widths, batch 128, 5 epochs.
  const bool cpu = !o.device.is_cuda();
  config.g_features = config.d_features = args.get_int("features", cpu ? 32 : 64, 1, 1024);
  const double ema_decay = args.get_double("ema", cpu ? 0.99 : 0.999, 0.0, 0.999999);
  if (cpu && !args.has("batch")) o.batch = 64;
  // Image folders (not MNIST-format data) default to 64×64 RGB; --image-size 28|64, --channels 1|3.
  const bool folder = !o.data.empty() && !is_mnist_folder(o.data);
  if (args.has("image-size") && args.get_int("image-size", 0, 0, 1 << 20) != 28 &&
      args.get_int("image-size", 0, 0, 1 << 20) != 64)
    throw cli::UsageError("--image-size must be 28 or 64");
  if (args.has("channels") && args.get_int("channels", 0, 0, 1 << 20) != 1 && args.get_int("channels", 0, 0, 1 << 20) != 3)
    throw cli::UsageError("--channels must be 1 or 3");
  const data::ImageFolderOptions folder_options{.size = int(args.get_int("image-size", folder ? 64 : 28, 28, 64)),
                                                .channels = int(args.get_int("channels", folder ? 3 : 1, 1, 3))};
  if (!folder && (folder_options.size != 28 || folder_options.channels != 1))
    throw cli::UsageError("--image-size and --channels resize folders of pictures; MNIST-format data is 28×28 grey");
  ImageData data = load_image_data(o.data, o.limit, true, folder_options);
  config.channels = data.train.images.size(1);
  config.image_size = data.train.images.size(2);
  if (o.batch > 0) check_batch_fits(o.batch, data.train.images.size(0), data.description);  // (auto: at most that)
  {  // memory: a step of throwaway networks, measured (core/memory_estimate.h); before any run folder exists
    // Built outside the measured step (building allocates its own peak); gradients freed before each step.
    Generator throwaway(0);  // not the run's generator: its draws initialize the real networks below
    models::DcganGenerator g(config, throwaway);
    models::DcganDiscriminator d(config, throwaway);
    g.to(o.device);
    d.to(o.device);
    const BatchStep probe = [&](int64_t batch) {
      g.zero_grad();
      d.zero_grad();
      const Tensor real = data.train.images.slice(0, 0, std::min<int64_t>(batch, data.train.images.size(0))).to(o.device);
      Tensor fake = g.forward(randn({batch, config.latent}, {.device = o.device}, throwaway));
      const Tensor ones = full({batch}, 1.0, {.device = o.device});
      add(sum(d.forward(real)), sum(d.forward(fake.detach()))).backward();
      binary_cross_entropy_with_logits(d.forward(fake), ones).backward();
      g.zero_grad();  // the next measurement starts from the same level
      d.zero_grad();
    };
    const uint64_t adam_state = uint64_t(g.parameter_count() + d.parameter_count()) * 2 * sizeof(float);
    const uint64_t ema_copies = uint64_t(g.parameter_count()) * 2 * sizeof(float);  // EMA and its generator
    settle_batch(o, probe, data.train.images.size(0), adam_state + ema_copies);
  }
  const int64_t per_epoch = data.train.images.size(0) / o.batch;
  if (o.epochs == 0 && !args.has("steps")) {
    if (cpu)
      o.steps = 400;
    else
      o.epochs = 5;
  }
  if (o.epochs > 0) o.steps = o.epochs * per_epoch;

  Generator rng(o.seed);
  models::DcganGenerator g(config, rng);
  models::DcganDiscriminator d(config, rng);
  models::dcgan_init(g, rng);
  models::dcgan_init(d, rng);
  g.to(o.device);
  d.to(o.device);
  const AdamOptions betas{.beta1 = 0.5, .beta2 = 0.999};
  Adam opt_g(g.parameters(), o.lr, betas), opt_d(d.parameters(), o.lr, betas);
  models::DcganGenerator g_ema(config, rng);
  g_ema.to(o.device);
  g_ema.load_state_dict(g.state_dict());
  EMA ema(g.parameters(), ema_decay);
  data::DataLoader loader({data.train.images}, {.batch_size = o.batch, .seed = o.seed, .device = o.device});
  Generator noise(o.seed + 1);
  const Tensor fixed_z = randn({64, config.latent}, {.device = o.device}, noise);
  Resumable state;
  state.modules = {{"generator", &g}, {"discriminator", &d}};
  state.optimizers = {{"generator", &opt_g}, {"discriminator", &opt_d}};
  state.averages = {{"generator", &ema}};
  state.generators = {{"init", &rng}, {"noise", &noise}};
  state.loader = &loader;
  state.learning_rate = o.lr;
  TrainingRun run(o, "DCGAN on " + data.description,
                  {{"latent", std::to_string(config.latent)},
                   {"channels", std::to_string(config.channels)},
                   {"image_size", std::to_string(config.image_size)},
                   {"features", std::to_string(config.g_features)},
                   {"ema", exact_number(ema_decay)},
                   {"generator_parameters", std::to_string(g.parameter_count())},
                   {"discriminator_parameters", std::to_string(d.parameter_count())}},
                  "img", state);

  const Tensor ones = full({o.batch}, 1.0, {.device = o.device}), zeros_ = zeros({o.batch}, {.device = o.device});
  for (int64_t step = run.first_step(); step <= o.steps; ++step) {
    Tensor real = loader.next()[0];
    Tensor fake = g.forward(randn({o.batch, config.latent}, {.device = o.device}, noise));
    // D: maximize log D(x) + log(1 − D(G(z))). The real batch goes through D first, then the fake one, in
    // two statements: each pass updates D's batch-norm running statistics, and the order of a function's
    // arguments is unspecified (GCC evaluated the fake one first, unlike PyTorch's DCGAN).
    Tensor d_real = d.forward(real);
    Tensor d_fake = d.forward(fake.detach());
    Tensor loss_d =
        add(binary_cross_entropy_with_logits(d_real, ones), binary_cross_entropy_with_logits(d_fake, zeros_));
    opt_d.zero_grad();
    loss_d.backward();
    opt_d.step();
    // G: maximize log D(G(z)) (the non-saturating form)
    Tensor loss_g = binary_cross_entropy_with_logits(d.forward(fake), ones);
    opt_g.zero_grad();
    loss_g.backward();
    opt_g.step();
    ema.update(g.parameters());
    run.accumulate("d_loss", loss_d);
    run.accumulate("g_loss", loss_g);
    if (!run.step_done(step, loader.position().epoch, o.batch)) continue;  // a diverged step was undone (--on-nan)
    if (run.due(step, o.sample_every)) {
      ema.copy_to(g_ema.parameters());
      {  // batch-norm statistics are not averaged: the EMA generator uses the live generator's
        NoGradGuard no_grad;
        std::vector<Tensor> from = g.buffers(), to = g_ema.buffers();
        for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
      }
      g_ema.eval();
      Tensor images;
      {
        NoGradGuard no_grad;
        images = g_ema.forward(fixed_z);
      }
      const std::string grid = run.dir().sample_stem(step) + ".png";
      data::save_image_grid(grid, images, {.nrow = 8, .low = -1.0, .high = 1.0});
      data::save_image_grid(run.dir().file("samples/latest.png"), images, {.nrow = 8, .low = -1.0, .high = 1.0});
      run.report().images = {{"EMA generator, step " + std::to_string(step), grid}};
      save_weights(g_ema, run.dir().file("model.safetensors"), {{"model", "dcgan"}});
      run.write_report();
    }
    if (!run.end_of_step(step, state)) break;  // a checkpoint when due, or after Ctrl-C
  }
  run.finish();
  return 0;
}

}  // namespace kiln::apps
