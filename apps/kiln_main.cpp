// The kiln command line: `kiln train MODEL`, `kiln ops` (the op table), `kiln help`.
// Bad flags exit with code 2 and a usage message; runtime errors exit with code 1 and the message.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/interrupt.h"
#include "apps/run_models.h"
#include "apps/train_options.h"
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
    "  train [MODEL]   train a model on its default data; MODEL is one of\n"
    "                    dcgan       DCGAN image generator on Fashion-MNIST (the default)\n"
    "                    vae         convolutional VAE on Fashion-MNIST\n"
    "                    classifier  CNN classifier on Fashion-MNIST (also the feature extractor of\n"
    "                                the Fréchet distance for image generators)\n"
    "                    gpt         GPT language model on Debian's fortunes (--corpus text) or on\n"
    "                                MIDI event tokens of Debian's MIDI music (--corpus music)\n"
    "                    charrnn     multi-layer LSTM language model (same corpora as gpt)\n"
    "                    rnnvae      sentence VAE (LSTM encoder/decoder, KL annealing, word dropout)\n"
    "                                on the lines of the text corpus\n"
    "                    mlp         the two-layer perceptron demo\n"
    "  resume RUN      continue a run from its checkpoint (bit for bit); flags given here override the\n"
    "                  run's, e.g. kiln resume runs/gan --steps 5000\n"
    "  sample RUN      new samples from a trained generator: dcgan, vae: --count N, --interpolate\n"
    "                  (latent walks), --seed N, --out FILE.png; gpt, charrnn: --length N,\n"
    "                  --temperature X, --top-k N, --seed N, --out STEM (text, or MIDI + WAV);\n"
    "                  rnnvae: --count N sentences, --interpolate (between two validation sentences)\n"
    "  eval RUN        the run's test figure: classifier accuracy, VAE test loss, for dcgan the\n"
    "                  Fréchet distance on a kiln classifier's features (--classifier RUN, --count N),\n"
    "                  for gpt and charrnn the validation loss and bits per symbol (--windows N),\n"
    "                  for rnnvae the validation loss per sentence (--count N)\n"
    "  style --content A.png --style B.png   neural style transfer on a kiln classifier's features\n"
    "                  (--weights RUN) or VGG-19's (--network vgg19 --weights FILE); --size N --steps N\n"
    "                  --style-weight X --content-weight X --optimizer adam|lbfgs --lr X --out FILE.png\n"
    "  ops             list the op table (every differentiable op kiln has)\n"
    "  help            this message\n"
    "\n"
    "train options (every model):\n"
    "  --data PATH     data set (default: Fashion-MNIST from /usr/share/datasets/fashion-mnist, Debian's\n"
    "                  dataset-fashion-mnist package; any MNIST-format folder)\n"
    "  --steps N | --epochs N   length of the run (defaults depend on the model and the device)\n"
    "  --batch N       examples per step\n"
    "  --lr X          learning rate\n"
    "  --device D      auto (default: the GPU when there is one), cpu, cuda, cuda:N\n"
    "  --seed N        seed of initialization, shuffling and noise (default 0)\n"
    "  --out DIR       run folder (default runs/MODEL-DATE-TIME)\n"
    "  --sample-every N, --log-every N, --checkpoint-every N   in steps\n"
    "  --limit N       train on the first N examples only\n"
    "  --deterministic deterministic CUDA algorithms: a rerun or a resumed run on the GPU gives the same\n"
    "                  bits (somewhat slower; the CPU is always deterministic)\n"
    "model options: dcgan --latent N --features N --ema DECAY; vae --latent N; mlp --hidden N;\n"
    "  gpt --corpus text|music --context N --layers N --heads N --width N --dropout P --warmup N\n"
    "      --weight-decay X --temperature X --top-k N --val-windows N\n"
    "  charrnn --corpus text|music --context N --layers N --hidden N --embed N --dropout P --clip X\n"
    "      --temperature X --top-k N --val-windows N\n"
    "  rnnvae --max-len N --embed N --hidden N --latent N --anneal STEPS --word-dropout P --clip X\n"
    "      --temperature X\n"
    "\n"
    "A run folder holds config.json, metrics.csv, curves.svg, samples/, model.safetensors and report.html\n"
    "(one self-contained page: open it in a browser).\n"
    "\n"
    "examples:\n"
    "  kiln train                         # DCGAN on Fashion-MNIST\n"
    "  kiln train vae --epochs 10 --device cuda\n"
    "  kiln train classifier --batch 128 --lr 1e-3\n"
    "  kiln train dcgan --data ~/mnist --steps 2000 --out runs/my-gan\n"
    "  kiln sample runs/my-gan --interpolate\n"
    "  kiln eval runs/my-gan --classifier runs/classifier-20261122-101500\n";

int train_mlp_command(int argc, char** argv, int first) {
  kiln::cli::Args args(argc, argv, first, {"data", "epochs", "batch", "lr", "hidden", "seed", "limit", "device"},
                       {"help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positional().empty()) throw kiln::cli::UsageError("unexpected argument '" + args.positional()[0] + "'");
  std::string device = args.get_string("device", "cpu");
  if (device != "cpu") throw kiln::cli::UsageError("--device " + device + ": the mlp demo runs on the cpu");
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

int train(int argc, char** argv) {
  // kiln train [MODEL] [flags]: the model word is optional (default dcgan).
  int first = 2;
  std::string model = "dcgan";
  if (argc > 2 && argv[2][0] != '-') {
    model = argv[2];
    first = 3;
  }
  for (int i = first; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  if (model == "dcgan") return kiln::apps::train_dcgan(argc, argv, first);
  if (model == "vae") return kiln::apps::train_vae(argc, argv, first);
  if (model == "classifier") return kiln::apps::train_classifier(argc, argv, first);
  if (model == "rnnvae") return kiln::apps::train_rnnvae(argc, argv, first);
  if (model == "gpt" || model == "charrnn") return kiln::apps::train_sequence_model(argc, argv, first, model);
  if (model == "mlp") return train_mlp_command(argc, argv, first);
  throw kiln::cli::UsageError("unknown model '" + model + "' (dcgan, vae, gpt, charrnn, rnnvae, classifier, mlp)");
}

// kiln resume RUN [flags]: replays the run's recorded `kiln train` flags (config.json "flags"), then the
// flags given here (e.g. a larger --steps or another --device), with --out RUN --resume.
int resume(int argc, char** argv) {
  if (argc < 3 || argv[2][0] == '-') throw kiln::cli::UsageError("kiln resume takes a run folder first");
  const kiln::apps::RunDir run = kiln::apps::RunDir::open(argv[2]);
  const kiln::apps::Config config = run.read_config();
  std::vector<std::string> words = {argv[0], "train", kiln::apps::config_value(run, config, "model")};
  for (const auto& [name, value] : kiln::apps::flags_from_text(kiln::apps::config_value(run, config, "flags")))
    if (std::find(kiln::apps::kTrainSwitches.begin(), kiln::apps::kTrainSwitches.end(), name) !=
        kiln::apps::kTrainSwitches.end())
      words.push_back("--" + name);  // a switch, recorded as name=1
    else
      words.insert(words.end(), {"--" + name, value});
  for (int i = 3; i < argc; ++i) words.push_back(argv[i]);
  words.insert(words.end(), {"--out", run.path(), "--resume"});
  std::vector<char*> args;
  for (std::string& w : words) args.push_back(w.data());
  return train(int(args.size()), args.data());
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
    if (cmd == "resume") return resume(argc, argv);
    if (cmd == "sample") return kiln::apps::sample_command(argc, argv, 2);
    if (cmd == "eval") return kiln::apps::eval_command(argc, argv, 2);
    if (cmd == "style") return kiln::apps::style_command(argc, argv, 2);
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw kiln::cli::UsageError("unknown command '" + cmd + "'");
  } catch (const kiln::apps::Interrupted& e) {
    std::fprintf(stderr, "kiln: %s\n", e.what());
    return 130;
  } catch (const kiln::cli::UsageError& e) {
    std::fprintf(stderr, "kiln: %s\nrun 'kiln help' for usage\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
}
