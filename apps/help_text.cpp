// The help pages of the kiln command line. docs/cli.md says the same at more length; keep the two in step.
#include "apps/help_text.h"

#include <cstring>

namespace kiln::apps {
namespace {

const char* kOverview =
    "usage: kiln <command> [options]\n"
    "\n"
    "commands:\n"
    "  train [MODEL]   train a model on its default data (dcgan when no MODEL is given)\n"
    "  resume RUN      continue a run from its checkpoint, bit for bit\n"
    "  sample RUN      new images, text, melodies or sentences from a trained run\n"
    "  eval RUN        the run's figure of merit on held-out data\n"
    "  style --content A.png --style B.png   neural style transfer\n"
    "  ops             list the op table (every differentiable op kiln has)\n"
    "  bench models|ops|overhead   training-step benchmarks beside PyTorch, the kernel lab, host cost\n"
    "  help [COMMAND]  this overview, or one command's flags and examples (also: kiln COMMAND --help)\n"
    "\n"
    "examples:\n"
    "  kiln train                         # DCGAN on Fashion-MNIST, on the GPU if there is one\n"
    "  kiln train gpt --corpus music      # a GPT on MIDI event tokens\n"
    "  kiln sample runs/dcgan-20261122-101500 --interpolate\n"
    "  kiln help train\n";

const char* kTrain =
    "usage: kiln train [MODEL] [options]\n"
    "\n"
    "MODEL is one of\n"
    "  dcgan       DCGAN image generator on Fashion-MNIST (the default)\n"
    "  vae         convolutional VAE on Fashion-MNIST\n"
    "  classifier  CNN classifier on Fashion-MNIST (also the feature extractor of the Fréchet distance\n"
    "              for image generators, and of style transfer)\n"
    "  gpt         GPT language model on Debian's fortunes (--corpus text) or on MIDI event tokens of\n"
    "              Debian's MIDI music (--corpus music)\n"
    "  charrnn     multi-layer LSTM language model (same corpora as gpt)\n"
    "  rnnvae      sentence VAE (LSTM encoder/decoder, KL annealing, word dropout) on the lines of the\n"
    "              text corpus\n"
    "  mlp         the two-layer perceptron demo\n"
    "\n"
    "options (every model but mlp, which takes --data --epochs --batch --lr --hidden --seed --limit):\n"
    "  --data PATH     data set: an MNIST-format folder (IDX files, gzip or not; default:\n"
    "                  /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist), for dcgan, vae\n"
    "                  and classifier also a folder of PNG/JPEG/BMP pictures (classifier: one subfolder per\n"
    "                  class); a UTF-8 text file or folder for text; a .mid file or folder for music\n"
    "  --steps N | --epochs N   length of the run (defaults depend on the model and the device; gpt,\n"
    "                  charrnn and rnnvae count --steps only)\n"
    "  --batch N       examples per step; a batch that would not fit in memory (the cgroup limit, ulimit -v,\n"
    "                  free memory) is refused before the run starts, naming the batch that fits\n"
    "  --batch auto    the largest batch that fits in memory (GPU or CPU memory)\n"
    "  --lr X          learning rate\n"
    "  --device D      auto (default: the GPU when there is one), cpu, cuda, cuda:N\n"
    "  --seed N        seed of initialization, shuffling and noise (default 0)\n"
    "  --out DIR       run folder (default runs/MODEL-DATE-TIME); a folder that is not empty is never\n"
    "                  written into: the run then goes to DIR-2\n"
    "  --sample-every N, --log-every N, --checkpoint-every N   in steps\n"
    "  --limit N       train on the first N images only (image models; give text models less --data)\n"
    "  --deterministic deterministic CUDA algorithms: a rerun or a resumed run on the GPU gives the same\n"
    "                  bits (somewhat slower; the CPU is always deterministic)\n"
    "  --on-nan skip|rollback|stop   when a loss or the gradient norm is NaN or infinite (default\n"
    "                  rollback: back to the last good checkpoint with the learning rate halved; skip:\n"
    "                  drop the step's update; stop: stop, keeping the last good state; exit status 1)\n"
    "  --nan-limit N   skip (in a row) or rollback at most N times, then stop (default 3)\n"
    "  --spike-factor X   also a loss over X times its running mean diverges (default 0: off)\n"
    "  --detect-anomaly   backward names the op whose gradient first became NaN or infinite, and\n"
    "                  where its forward was called (slow: for debugging)\n"
    "  --cuda-graph on|off   on a GPU, replay the training step as one CUDA graph after warm-up\n"
    "                  (default on where the model allows; kiln says why where it does not)\n"
    "\n"
    "model options:\n"
    "  dcgan --latent N --features N --ema DECAY --image-size 28|64 --channels 1|3 (picture folders:\n"
    "      64×64 colour by default)\n"
    "  vae --latent N;  mlp --hidden N\n"
    "  gpt --corpus text|music --context N --layers N --heads N --width N --dropout P --warmup N\n"
    "      --decay-steps N (cosine decay to lr/10 over N steps; default --steps) --weight-decay X\n"
    "      --temperature X --top-k N --val-windows N\n"
    "  charrnn --corpus text|music --context N --layers N --hidden N --embed N --dropout P --clip X\n"
    "      --temperature X --top-k N --val-windows N\n"
    "  rnnvae --max-len N --embed N --hidden N --latent N --anneal STEPS --word-dropout P --clip X\n"
    "      --temperature X\n"
    "\n"
    "A run folder holds config.json, metrics.csv, curves.svg, samples/, model.safetensors,\n"
    "checkpoint.safetensors and report.html (one self-contained page: open it in a browser).\n"
    "Ctrl-C stops a run cleanly with a checkpoint (exit status 130); kiln resume continues it.\n"
    "\n"
    "examples:\n"
    "  kiln train                         # DCGAN on Fashion-MNIST\n"
    "  kiln train vae --epochs 10 --device cuda\n"
    "  kiln train classifier --batch 128 --lr 1e-3\n"
    "  kiln train dcgan --data ~/mnist --steps 2000 --out runs/my-gan\n"
    "  kiln train gpt --data ~/books --steps 5000 --context 256\n"
    "  kiln train charrnn --corpus music --data ~/midi --device cpu\n";

const char* kResume =
    "usage: kiln resume RUN [options]\n"
    "\n"
    "Continues RUN from its checkpoint with the flags it was trained with (recorded in config.json).\n"
    "Options given here override the recorded ones, e.g. a larger --steps to train longer, or --device to\n"
    "move the run (it then continues, but not bit for bit). On the CPU, and on a GPU in --deterministic\n"
    "mode, a resumed run gives the same losses and weights as one that was never interrupted.\n"
    "--steps must be larger than the steps the run has done. Learning-rate and KL schedules keep the length\n"
    "they were recorded with (gpt --decay-steps, rnnvae --anneal).\n"
    "\n"
    "examples:\n"
    "  kiln resume runs/my-gan                 # after Ctrl-C, a crash or a time limit\n"
    "  kiln resume runs/my-gan --steps 5000    # train longer\n"
    "  kiln resume runs/my-gan --device cpu\n";

const char* kSample =
    "usage: kiln sample RUN [options]\n"
    "\n"
    "New samples from a trained run, written into RUN/samples/ unless --out says otherwise.\n"
    "  dcgan, vae      an image grid: --count N (64), --interpolate (rows that walk in a straight line\n"
    "                  between two random latent points), --seed N, --out FILE.png\n"
    "  gpt, charrnn    --length N new tokens (1000) drawn with --temperature X (0.8) and --top-k N (0: all),\n"
    "                  from --seed N, written to --out STEM: STEM.txt, or STEM.mid and STEM.wav for music\n"
    "  rnnvae          --count N sentences (10) decoded from random codes at --temperature X, or\n"
    "                  --interpolate: the sentences on a straight line between the codes of two\n"
    "                  validation sentences; --out FILE.txt\n"
    "  --device D      auto (default), cpu, cuda, cuda:N\n"
    "\n"
    "examples:\n"
    "  kiln sample runs/my-gan --interpolate --out walk.png\n"
    "  kiln sample runs/gpt-20261122-101500 --length 2000 --temperature 0.7 --top-k 40\n"
    "  kiln sample runs/rnnvae-20261122-101500 --interpolate\n";

const char* kEval =
    "usage: kiln eval RUN [options]\n"
    "\n"
    "The run's figure of merit on held-out data:\n"
    "  classifier      test accuracy\n"
    "  vae             test loss per image (negative ELBO, nats)\n"
    "  dcgan           Fréchet distance of --count N samples (10000) to the test set, on the features of a\n"
    "                  kiln-trained classifier (the newest runs/classifier-*, or --classifier RUN_OR_FILE)\n"
    "  gpt, charrnn    validation loss in nats and bits per symbol (--windows N: the first N windows only)\n"
    "  rnnvae          validation loss per sentence (negative ELBO; --count N sentences)\n"
    "  --data PATH     evaluate on other data than the run's (text: in the run's vocabulary)\n"
    "  --seed N        the noise of the VAEs and the GAN (default 0)\n"
    "  --device D      auto (default), cpu, cuda, cuda:N\n"
    "\n"
    "examples:\n"
    "  kiln eval runs/classifier-20261122-101500\n"
    "  kiln eval runs/my-gan --classifier runs/classifier-20261122-101500\n"
    "  kiln eval runs/gpt-20261122-101500 --windows 128\n";

const char* kStyle =
    "usage: kiln style --content A.png --style B.png [options]\n"
    "\n"
    "Neural style transfer (Gatys et al.): optimizes a picture, starting from the content image, so that\n"
    "its features match the content image's and its Gram matrices match the style image's.\n"
    "  --network N     classifier (default: kiln's Fashion-MNIST classifier, grey) or vgg19 (colour)\n"
    "  --weights W     the classifier's run folder or safetensors file (default: the newest\n"
    "                  runs/classifier-*); for vgg19 a safetensors file of torchvision's vgg19().features\n"
    "                  (docs/cli.md shows how to make it; kiln downloads nothing)\n"
    "  --size N        pictures are resized to N×N (128; 256 for vgg19)\n"
    "  --steps N (300), --optimizer adam|lbfgs, --lr X (0.02)\n"
    "  --content-weight X (1), --style-weight X (1e6)\n"
    "  --device D, --out FILE.png (style.png)\n"
    "\n"
    "examples:\n"
    "  kiln style --content boot.png --style bag.png --weights runs/classifier-20261122-101500\n"
    "  kiln style --network vgg19 --weights vgg19.safetensors --content a.jpg --style b.jpg --size 256\n";

const char* kBench =
    "usage: kiln bench models|ops|overhead [options]\n"
    "\n"
    "  models     one training step of each reference workload (dcgan28, convvae28, charlstm, gpt),\n"
    "             the median of timed steps after warm-up, beside PyTorch with --torch\n"
    "  ops        the kernel lab: numbered versions of each kernel family, checked against the CPU\n"
    "             reference, then timed\n"
    "             kiln bench ops [--device cpu|cuda] [--op NAME] [--json FILE] [--quick]\n"
    "             (docs/kernel-lab.md; exit code 1 when a version fails its check)\n"
    "  overhead   host time per op for tiny tensors, with and without autograd\n"
    "\n"
    "kiln bench models [flags]\n"
    "  --device cpu|cuda     where to run (default: cuda when there is a GPU)\n"
    "  --workload A[,B]      dcgan28, convvae28, charlstm, gpt, gpt-bf16 (default: all; gpt-bf16 is not\n"
    "                        available yet: bf16 is issue 15)\n"
    "  --steps N             timed steps, the median is reported (30; fewer is allowed for quick checks)\n"
    "  --warmup N            untimed steps first (5 on the CPU, 10 on a GPU)\n"
    "  --graph off|on|both   time the step captured whole in a CUDA graph too (off; GPU only)\n"
    "  --torch               the same workloads in PyTorch (benchmarks/torch/bench_models.py, through\n"
    "                        $KILN_PYTHON, python3 or /usr/bin/python3) and the ratio kiln/PyTorch\n"
    "  --threads N           CPU threads, the same on both sides (default: OpenMP's count)\n"
    "  --rounds N            kiln then PyTorch N times, interleaved, the median of the rounds (1)\n"
    "  --json FILE           results with the machine's description; --markdown FILE: the table\n"
    "  --results DIR         both at once, as DIR/<gpu or cpu>-<date>.json and .md\n"
    "  --list                the workloads with their sizes and parameter counts, without timing\n"
    "  On a GPU the reference sizes run; the CPU runs scaled-down sizes: dcgan28 and convvae28 batch 16,\n"
    "  charlstm batch 8 x 32 steps, gpt batch 8 x context 64 with 2 layers (same models otherwise).\n"
    "\n"
    "kiln bench overhead [--device cpu|cuda] [--ops N (1000)] [--threads N] [--torch] [--json FILE]\n"
    "  add, mul, relu and sum on a 4-element tensor, N in a row, with and without autograd: host\n"
    "  microseconds per op before and after the one device synchronization at the end.\n"
    "\n"
    "examples:\n"
    "  kiln bench models --device cpu --torch --threads 1\n"
    "  kiln bench models --workload gpt --torch --json results.json\n"
    "  kiln bench overhead --device cuda --torch\n"
    "  kiln bench ops --device cpu --op softmax\n";

const char* kOps =
    "usage: kiln ops\n"
    "\n"
    "Lists kiln's op table: every op, whether it has a gradient, and how many CUDA devices are visible.\n";

}  // namespace

const char* command_help(const std::string& command) {
  if (command.empty() || command == "help") return kOverview;
  if (command == "train") return kTrain;
  if (command == "resume") return kResume;
  if (command == "sample") return kSample;
  if (command == "eval") return kEval;
  if (command == "style") return kStyle;
  if (command == "ops") return kOps;
  if (command == "bench") return kBench;
  return nullptr;
}

bool wants_help(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  return false;
}

}  // namespace kiln::apps
