// The kiln command line. Today: `kiln train mlp` (the foundation demo) and `kiln ops` (the op table).
// Bad flags exit with code 2 and a usage message; runtime errors exit with code 1 and the message.
#include <cstdio>
#include <cstring>
#include <string>

#include "apps/cli_args.h"
#include "apps/train_mlp.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/ops/op_table.h"
#include "data/idx.h"

namespace {

const char* kUsage =
    "usage: kiln <command> [options]\n"
    "\n"
    "commands:\n"
    "  train [mlp]     train a model on its default data (today: a two-layer perceptron on Fashion-MNIST)\n"
    "  ops             list the op table (every differentiable op kiln has)\n"
    "  help            this message\n"
    "\n"
    "train options:\n"
    "  --data DIR      MNIST-format folder (default: /usr/share/datasets/fashion-mnist, from Debian's\n"
    "                  dataset-fashion-mnist package)\n"
    "  --epochs N      passes over the training set (default 5)\n"
    "  --batch N       images per step (default 128)\n"
    "  --lr X          learning rate of SGD with momentum 0.9 (default 0.05)\n"
    "  --hidden N      hidden units (default 256)\n"
    "  --seed N        seed of initialization and shuffling (default 0)\n"
    "  --limit N       train on the first N shuffled images only (default: all)\n"
    "  --device D      cpu (CUDA kernels arrive with the CUDA backend)\n"
    "\n"
    "examples:\n"
    "  kiln train\n"
    "  kiln train mlp --epochs 5 --lr 0.02\n"
    "  kiln train --data ~/mnist --batch 64\n";

int train(int argc, char** argv) {
  kiln::cli::Args args(argc, argv, 2, {"data", "epochs", "batch", "lr", "hidden", "seed", "limit", "device"}, {"help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string model = args.positional().empty() ? "mlp" : args.positional()[0];
  if (model != "mlp") throw kiln::cli::UsageError("unknown model '" + model + "' (available today: mlp)");
  if (args.positional().size() > 1) throw kiln::cli::UsageError("unexpected argument '" + args.positional()[1] + "'");
  std::string device = args.get_string("device", "cpu");
  if (device != "cpu")
    throw kiln::cli::UsageError("--device " + device + ": only cpu is supported until the CUDA backend lands");
  kiln::apps::MlpConfig cfg;
  cfg.data_dir = args.get_string("data", kiln::data::kFashionMnistDir);
  cfg.epochs = args.get_int("epochs", 5, 1, 1000);
  cfg.batch = args.get_int("batch", 128, 1, 60000);
  cfg.lr = args.get_double("lr", 0.05, 1e-8, 10.0);
  cfg.hidden = args.get_int("hidden", 256, 1, 65536);
  cfg.seed = uint64_t(args.get_int("seed", 0, 0, (1LL << 62)));
  cfg.limit = args.get_int("limit", 0, 0, 1LL << 40);
  kiln::apps::train_mlp(cfg);
  return 0;
}

int list_ops() {
  for (int i = 0; i < kiln::kOpCount; ++i) {
    auto op = kiln::OpId(i);
    std::printf("%-34s %s\n", kiln::op_name(op), kiln::op_is_differentiable(op) ? "" : "(no gradient)");
  }
  std::printf("%d ops; CUDA devices visible: %d\n", kiln::kOpCount, kiln::cuda_device_count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "help";
    if (cmd == "train") return train(argc, argv);
    if (cmd == "ops") return list_ops();
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw kiln::cli::UsageError("unknown command '" + cmd + "'");
  } catch (const kiln::cli::UsageError& e) {
    std::fprintf(stderr, "kiln: %s\nrun 'kiln help' for usage\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
}
