// The kiln command line: train, resume, sample, eval, style, ops and help (apps/help_text.cpp).
// Bad flags exit with code 2 and a usage message; runtime errors exit with code 1 and the message.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps/cli_args.h"
#include "apps/commands.h"
#include "apps/help_text.h"
#include "apps/interrupt.h"
#include "apps/run_models.h"
#include "apps/train_options.h"
#include "apps/train_mlp.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/memory_estimate.h"
#include "core/out_of_memory.h"
#include "core/printable.h"
#include "core/ops/op_table.h"
#include "data/idx.h"

namespace {

int train_mlp_command(int argc, char** argv, int first) {
  kiln::cli::Args args(argc, argv, first, {"data", "epochs", "batch", "lr", "hidden", "seed", "limit", "device"});
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
  // Whether the flag --name (or --name=value) is among the flags given to resume.
  auto given_here = [&](const std::string& name) {
    for (int i = 3; i < argc; ++i)
      if (std::string(argv[i]) == "--" + name || std::string(argv[i]).rfind("--" + name + "=", 0) == 0) return true;
    return false;
  };
  for (const char* name : {"out", "resume"})
    if (given_here(name)) throw kiln::cli::UsageError(std::string("--") + name + ": a resumed run stays in its folder");
  const kiln::apps::RunDir run = kiln::apps::RunDir::open(argv[2]);
  const kiln::apps::Config config = run.read_config();
  const std::string model = kiln::apps::run_model(run, config);
  std::vector<std::string> words = {argv[0], "train", model};
  // A length given here replaces the recorded one, in either unit: the run recorded its --epochs as the
  // --steps they came to, and `kiln resume RUN --epochs 20` must not meet that --steps ("not both").
  const bool length_given = given_here("steps") || given_here("epochs");
  const auto& switches = kiln::apps::kTrainSwitches;
  const std::vector<std::string> flag_names = kiln::apps::train_flag_names(model);
  kiln::apps::Config recorded, replayed;  // replayed: the recorded flags that no flag given here replaces
  const std::string recorded_text = kiln::apps::config_value(run, config, "flags");
  try {
    recorded = kiln::apps::flags_from_text(recorded_text);
  } catch (const kiln::Error& e) {
    KILN_FAIL("'", run.file("config.json"), "': its 'flags' are damaged: ", kiln::message_of(e));
  }
  {  // the sizes it will replay (its recorded flags over config.json's keys) against its weights, first
    kiln::apps::Config sizes = config;
    for (const auto& [name, value] : recorded)
      if (sizes.count(name)) sizes[name] = value;
    kiln::apps::check_config_against_weights(run, sizes);
  }
  for (const auto& [name, value] : recorded) {
    // The user never typed these: a bad one is the file's fault, named as such (not "unknown flag --x").
    const bool is_switch = std::find(switches.begin(), switches.end(), name) != switches.end();
    KILN_CHECK(is_switch || std::find(flag_names.begin(), flag_names.end(), name) != flag_names.end(), "'",
               run.file("config.json"), "': its 'flags' record --", kiln::printable(name), ", which is not a flag of ",
               "'kiln train ", model, "': the file is damaged, or was written by another kiln version");
    if (length_given && (name == "steps" || name == "epochs")) continue;
    // Runs made before empty values became usage errors may record one (`--data ''` was the default then):
    // it is replayed as what it meant, no flag.
    if (!is_switch && value.empty()) continue;
    if (!given_here(name)) replayed[name] = value;
    if (is_switch)
      words.push_back("--" + name);  // a switch, recorded as name=1
    else
      words.insert(words.end(), {"--" + name, value});
  }
  for (int i = 3; i < argc; ++i) words.push_back(argv[i]);
  // The folder absolute: config.json's "out" and the hints kiln prints then work from any directory.
  words.insert(words.end(), {"--out", std::filesystem::absolute(run.path()).lexically_normal().string(), "--resume"});
  std::vector<char*> args;
  for (std::string& w : words) args.push_back(w.data());
  try {
    return train(int(args.size()), args.data());
  } catch (const kiln::cli::UsageError& e) {
    // A message about a flag starts with it ("--batch expects an integer, got 'x'"): when that flag came
    // from config.json, the message says so, and it is an error in the file, not in the command line.
    const std::string message = e.what();
    const size_t end = message.find_first_of(" :=", 2);
    const std::string flag = message.rfind("--", 0) == 0 ? message.substr(2, end - 2) : "";
    const auto replayed_flag = replayed.find(flag);
    if (replayed_flag == replayed.end()) throw;
    KILN_FAIL("'", run.file("config.json"), "': its 'flags' record --", flag, "=",
              kiln::printable(replayed_flag->second), ", which kiln refuses: ", kiln::printable(message, 1000));
  }
}

int list_ops(int argc, char** argv) {
  if (argc > 2) throw kiln::cli::UsageError(std::string("kiln ops takes no arguments, got '") + argv[2] + "'");
  for (int i = 0; i < kiln::kOpCount; ++i) {
    auto op = kiln::OpId(i);
    std::printf("%-34s %s\n", kiln::op_name(op), kiln::op_is_differentiable(op) ? "" : "(no gradient)");
  }
  std::printf("%d ops; CUDA devices visible: %d\n", kiln::kOpCount, kiln::cuda_device_count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Past the file size limit (ulimit -f) a write should fail with EFBIG, which the writers report with
  // the file's name (removing their temporary files), rather than end the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  std::string cmd = argc > 1 ? argv[1] : "help";
  try {
    bool show_help = kiln::apps::wants_help(argc, argv, 1);  // --help or -h anywhere
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {  // kiln help [COMMAND]
      show_help = true;
      cmd = argc > 2 ? argv[2] : "help";
    }
    const char* help = kiln::apps::command_help(cmd);
    if (help == nullptr) throw kiln::cli::UsageError("unknown command '" + cmd + "'");
    if (show_help) {
      std::fputs(help, stdout);
      return 0;
    }
    if (cmd != "ops") kiln::cap_cpu_memory_at_limit();  // out of memory: a message, not the kernel's kill
    if (cmd == "train") return train(argc, argv);
    if (cmd == "ops") return list_ops(argc, argv);
    if (cmd == "resume") return resume(argc, argv);
    if (cmd == "sample") return kiln::apps::sample_command(argc, argv, 2);
    if (cmd == "eval") return kiln::apps::eval_command(argc, argv, 2);
    if (cmd == "style") return kiln::apps::style_command(argc, argv, 2);
    if (cmd == "bench") return kiln::apps::bench_command(argc, argv, 2);
    throw kiln::cli::UsageError("unknown command '" + cmd + "'");
  } catch (const kiln::apps::Interrupted& e) {
    std::fprintf(stderr, "kiln: %s\n", kiln::printable_text(e.what()).c_str());
    return 130;
  } catch (const kiln::cli::UsageError& e) {  // messages quote paths and values: printable, whatever they hold
    std::fprintf(stderr, "kiln: %s\nrun 'kiln help' for usage\n", kiln::printable_text(e.what()).c_str());
    return 2;
  } catch (const kiln::OutOfMemory& e) {
    std::fprintf(stderr, "kiln: error: %s\nkiln: what a run had written before (its checkpoint) is kept; a smaller "
                 "--batch (or --batch auto) or a smaller model needs less memory\n",
                 kiln::printable_text(e.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {  // never a bare "std::bad_alloc"; checkpoints already written stay as they are
    std::fprintf(stderr, "kiln: error: %s\n", kiln::bad_alloc_message("running 'kiln " + cmd + "'").c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", kiln::printable_text(e.what()).c_str());
    return 1;
  }
}
