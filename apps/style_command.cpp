// kiln style --content A --style B: neural style transfer (models/style_transfer.h) on the features of
// kiln's Fashion-MNIST classifier (grey images; the newest runs/classifier-* by default, or --weights)
// or of VGG-19 (--network vgg19 --weights vgg19.safetensors, converted from torchvision; docs/cli.md).
#include <cstdio>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/model_io.h"
#include "apps/output_path.h"
#include "apps/run_models.h"
#include "apps/train_options.h"
#include "core/ops/ops.h"
#include "data/image_grid.h"
#include "data/image_io.h"
#include "models/style_transfer.h"

namespace kiln::apps {
namespace {

// An image file as [1, C, size, size] in [0, 1].
Tensor load_picture(const std::string& path, int channels, int size, Device device) {
  data::Image im = data::center_crop_resize(data::read_image(path, channels), size);
  std::vector<float> planar;
  data::append_planar(im, planar);
  return from_vector(planar, {1, channels, size, size}).to(device);
}

}  // namespace

int style_command(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first,
                 {"content", "style", "network", "weights", "size", "steps", "style-weight", "content-weight", "lr",
                  "optimizer", "device", "out"});
  if (!args.has("content") || !args.has("style")) throw cli::UsageError("kiln style needs --content FILE and --style FILE");
  const std::string out = args.get_string("out", "style.png");
  check_output_file("--out", out, ".png");  // before the weights are read and the optimisation runs
  const std::string network = args.get_string("network", "classifier");
  const Device device = parse_device(args.get_string("device", "auto"));
  models::StyleNetwork net;
  std::string weights = args.get_string("weights", "");
  if (network == "classifier") {
    if (weights.empty()) weights = find_trained_classifier();
    if (weights.empty())
      throw cli::UsageError("kiln style needs a trained classifier: run 'kiln train classifier' first, or pass "
                            "--weights RUN_OR_FILE (or --network vgg19 --weights vgg19.safetensors)");
    net = models::classifier_style_network(load_classifier(weights, device));
  } else if (network == "vgg19") {
    if (weights.empty()) throw cli::UsageError("--network vgg19 needs --weights FILE.safetensors (see docs/cli.md)");
    net = models::vgg19_style_network();
    load_weights(*net.layers, weights);
    net.layers->to(device);
  } else {
    throw cli::UsageError("--network " + network + ": expected classifier or vgg19");
  }
  const int size = int(args.get_int("size", network == "vgg19" ? 256 : 128, 16, 2048));
  models::StyleOptions o;
  o.steps = args.get_int("steps", 300, 1, 1000000);
  o.style_weight = args.get_double("style-weight", 1e6, 0.0, 1e15);
  o.content_weight = args.get_double("content-weight", 1.0, 0.0, 1e12);
  o.lr = args.get_double("lr", 0.02, 1e-8, 10.0);
  const std::string optimizer = args.get_string("optimizer", "adam");
  if (optimizer != "adam" && optimizer != "lbfgs") throw cli::UsageError("--optimizer " + optimizer + ": adam or lbfgs");
  o.lbfgs = optimizer == "lbfgs";
  Tensor content = load_picture(args.get_string("content", ""), int(net.channels), size, device);
  Tensor style = load_picture(args.get_string("style", ""), int(net.channels), size, device);
  std::printf("kiln style: %s features (%s), %dx%d, %lld %s steps\n", network.c_str(), weights.c_str(), size, size,
              (long long)o.steps, optimizer.c_str());
  Tensor result = models::style_transfer(net, content, style, o, [](int64_t step, double loss) {
    std::printf("  step %lld  loss %.6g\n", (long long)step, loss);
    std::fflush(stdout);
  });
  data::save_image_grid(out, result, {.nrow = 1, .padding = 0});
  std::printf("kiln: wrote %s\n", out.c_str());
  return 0;
}

}  // namespace kiln::apps
