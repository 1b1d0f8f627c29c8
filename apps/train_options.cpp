#include "apps/train_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/divergence_guard.h"
#include "core/allocator.h"
#include "core/autograd/anomaly_mode.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/printable.h"

namespace kiln::apps {

// One "name=value" line per flag; a backslash or a line break inside a value (a folder name may hold
// one) is written as \\ or \n, so that it can neither end the line nor start a flag of its own.
std::string flags_text(const Config& flags) {
  std::string text;
  for (const auto& [name, value] : flags) {
    text += (text.empty() ? "" : "\n") + name + "=";
    for (char c : value) text += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : std::string(1, c);
  }
  return text;
}

std::string exact_number(double v) {
  char buf[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

Config flags_from_text(const std::string& text) {
  Config flags;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    // Only a damaged file has a line that is not name=value (flags_text writes none): never skipped unsaid.
    KILN_CHECK(eq != std::string::npos || line.empty(), "the line '", printable(line), "' is not name=value");
    if (eq != std::string::npos) {
      std::string value;
      for (size_t i = eq + 1; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
      }
      flags[line.substr(0, eq)] = value;
    }
    start = end + 1;
  }
  return flags;
}

Device parse_device(const std::string& text) {
  if (text == "auto") return cuda_is_available() ? Device::cuda(0) : Device::cpu();
  if (text == "cpu") return Device::cpu();
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (text.size() > 5) {
      const std::string n = text.substr(5);
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 3)
        throw cli::UsageError("--device " + text + ": expected cuda:N with N a device number");
      index = std::stoi(n);
    }
    if (!cuda_is_available())
      throw cli::UsageError("--device " + text + ": no CUDA device is visible (use --device cpu)");
    if (index >= cuda_device_count())
      throw cli::UsageError("--device " + text + ": only " + std::to_string(cuda_device_count()) + " CUDA devices");
    return Device::cuda(index);
  }
  throw cli::UsageError("--device " + text + ": expected auto, cpu, cuda or cuda:N");
}

std::string device_string(Device device) {
  return device.is_cuda() ? "cuda:" + std::to_string(device.index) : "cpu";
}

const std::map<std::string, std::vector<std::string>>& model_train_flags() {
  static const std::map<std::string, std::vector<std::string>> flags = {
      {"classifier", {}},
      {"dcgan", {"latent", "features", "ema", "image-size", "channels"}},
      {"vae", {"latent"}},
      {"gpt", {"corpus", "context", "layers", "heads", "width", "dropout", "warmup", "decay-steps", "weight-decay",
               "temperature", "top-k", "val-windows"}},
      {"charrnn",
       {"corpus", "context", "layers", "hidden", "embed", "dropout", "clip", "temperature", "top-k", "val-windows"}},
      {"rnnvae", {"max-len", "embed", "hidden", "latent", "anneal", "word-dropout", "clip", "temperature"}},
  };
  return flags;
}

std::vector<std::string> train_flag_names(const std::string& model) {
  std::vector<std::string> names = {"data", "out", "device", "seed", "steps", "epochs", "batch", "lr",
                                    "sample-every", "checkpoint-every", "log-every", "limit",
                                    "on-nan", "nan-limit", "spike-factor", "cuda-graph"};
  const std::vector<std::string>& own = model_train_flags().at(model);
  names.insert(names.end(), own.begin(), own.end());
  return names;
}

cli::Args train_args(int argc, char** argv, int first, const std::string& model) {
  const std::vector<std::string> names = train_flag_names(model);
  try {
    return cli::Args(argc, argv, first, names, kTrainSwitches);
  } catch (const cli::UnknownFlag& e) {
    std::string owners;
    for (const auto& [other, flags] : model_train_flags())
      if (std::find(flags.begin(), flags.end(), e.flag) != flags.end()) owners += (owners.empty() ? "" : ", ") + other;
    if (owners.empty()) throw;
    throw cli::UsageError("--" + e.flag + " does not apply to " + model + " (it is a flag of " + owners + ")");
  }
}

TrainOptions parse_train_options(const cli::Args& args, TrainOptions o) {
  o.data = args.get_string("data", o.data);
  // Recorded absolute, so that sample, eval and resume find the data from any working directory.
  if (!o.data.empty()) o.data = std::filesystem::absolute(o.data).lexically_normal().string();
  o.out = args.get_string("out", o.out);
  check_run_folder_path(o.out);  // before any data is read
  o.device = parse_device(args.get_string("device", "auto"));
  o.seed = uint64_t(args.get_int("seed", int64_t(o.seed), 0, int64_t(1) << 62));
  if (args.has("steps") && args.has("epochs")) throw cli::UsageError("give --steps or --epochs, not both");
  o.steps = args.get_int("steps", o.steps, 1, int64_t(1) << 40);
  o.epochs = args.get_int("epochs", 0, 1, 100000);
  if (args.get_string("batch", "") == "auto") {  // resolved by the model's command (settle_batch, apps/training_run.h)
    o.batch = 0;
  } else {
    o.batch = args.get_int("batch", o.batch, 1, 1 << 20);
  }
  o.lr = args.get_double("lr", o.lr, 1e-12, 100.0);
  o.sample_every = args.get_int("sample-every", o.sample_every, 1, int64_t(1) << 40);
  o.checkpoint_every = args.get_int("checkpoint-every", o.checkpoint_every, 1, int64_t(1) << 40);
  o.log_every = args.get_int("log-every", o.log_every, 1, int64_t(1) << 40);
  o.limit = args.get_int("limit", 0, 0, int64_t(1) << 40);
  o.resume = args.has("resume");
  o.deterministic = args.has("deterministic");
  if (o.deterministic) set_deterministic(true);
  o.on_nan = args.get_string("on-nan", o.on_nan);
  parse_on_nan(o.on_nan);  // a usage error when it is none of skip, rollback, stop
  o.nan_limit = args.get_int("nan-limit", o.nan_limit, 0, 1000000);
  o.spike_factor = args.get_double("spike-factor", o.spike_factor, 0.0, 1e12);
  if (o.spike_factor > 0.0 && o.spike_factor <= 1.0)
    throw cli::UsageError("--spike-factor " + exact_number(o.spike_factor) + ": expected 0 (off) or a factor above 1");
  o.detect_anomaly = args.has("detect-anomaly");
  if (o.detect_anomaly) set_anomaly_mode(true);
  if (args.has("cuda-graph")) {
    o.cuda_graph = args.get_string("cuda-graph", "");
    if (o.cuda_graph != "on" && o.cuda_graph != "off")
      throw cli::UsageError("--cuda-graph " + o.cuda_graph + ": expected on or off");
    if (o.cuda_graph == "on" && !o.device.is_cuda())
      throw cli::UsageError("--cuda-graph on needs a GPU, and this run is on the CPU (" +
                            std::string(args.get_string("device", "auto") == "cpu" ? "--device cpu" : "no CUDA device found") +
                            "): CUDA graphs replay GPU work; leave the flag out or say --cuda-graph off");
  }
  if (o.resume && o.out.empty()) throw cli::UsageError("--resume needs --out RUN_FOLDER (or use 'kiln resume RUN')");
  for (const auto& [name, value] : args.values())
    if (name != "out" && name != "resume") o.flags[name] = value;
  o.is_flag = [args](const std::string& name) { return args.knows(name); };
  if (!args.positional().empty()) throw cli::UsageError("unexpected argument '" + args.positional()[0] + "'");
  return o;
}

void check_batch_fits(int64_t batch, int64_t examples, const std::string& data) {
  if (batch > examples)
    throw cli::UsageError("--batch " + std::to_string(batch) + " is larger than the " + std::to_string(examples) +
                          " training examples of " + data);
}

Config TrainOptions::to_config() const {
  return {{"model", model},
          {"data", data},
          {"device", device_string(device)},
          {"seed", std::to_string(seed)},
          {"steps", std::to_string(steps)},
          {"epochs", std::to_string(epochs)},
          {"batch", std::to_string(batch)},
          {"lr", exact_number(lr)},
          {"sample_every", std::to_string(sample_every)},
          {"checkpoint_every", std::to_string(checkpoint_every)},
          {"log_every", std::to_string(log_every)},
          {"limit", std::to_string(limit)},
          {"on_nan", on_nan},
          {"flags", flags_text(flags)}};
}

}  // namespace kiln::apps
