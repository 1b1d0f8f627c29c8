// `kiln bench overhead`: host time per op on tiny tensors (4 elements), where the work is nothing and
// the cost is kiln's dispatch, allocation, autograd recording and (CUDA) the kernel launch. N ops run in
// a row and are timed on the host before and after the one device synchronization at the end; with
// --torch, the same loop in PyTorch (benchmarks/torch/bench_models.py overhead).
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>

#include "apps/bench/bench.h"
#include "apps/bench/bench_report.h"
#include "apps/bench/torch_runner.h"
#include "apps/cli_args.h"
#include "core/allocator.h"
#include "core/autograd/grad_mode.h"
#include "core/ops/ops.h"
#include "core/random.h"

namespace kiln::apps::bench {
namespace {

constexpr int kRepetitions = 5;

struct OpTime {
  double host_us = std::nan("");    // per op, the loop alone (ops queued, not waited for)
  double synced_us = std::nan("");  // per op, up to the end of the one synchronization after the loop
};

// The ops timed: add, mul and relu chain on their own result (z = op(z, w)); sum reduces w each time.
const std::vector<std::string> kOps = {"add", "mul", "relu", "sum"};
const std::vector<std::string> kModes = {"grad", "nograd"};

OpTime time_op(const std::string& op, const std::string& mode, Device device, int n) {
  const Tensor w = add(rand({4}, {.device = device}), 0.5).requires_grad_(true);
  std::function<Tensor(const Tensor&)> f;
  if (op == "add") f = [&](const Tensor& z) { return add(z, w); };
  if (op == "mul") f = [&](const Tensor& z) { return mul(z, w); };
  if (op == "relu") f = [](const Tensor& z) { return relu(z); };
  if (op == "sum") f = [&](const Tensor&) { return sum(w); };
  const auto once = [&] {
    Tensor z = add(rand({4}, {.device = device}), 0.5).requires_grad_(true);
    synchronize_device(device);
    std::optional<NoGradGuard> no_grad;
    if (mode == "nograd") no_grad.emplace();
    const double t0 = host_now_us();
    if (op == "sum") {
      for (int i = 0; i < n; ++i) f(z);
    } else {
      for (int i = 0; i < n; ++i) z = f(z);
    }
    const double t1 = host_now_us();
    synchronize_device(device);
    const double t2 = host_now_us();
    return OpTime{(t1 - t0) / n, (t2 - t0) / n};
  };
  once();  // warm-up: allocator, kernels, lazy initialization
  std::vector<double> host, synced;
  for (int r = 0; r < kRepetitions; ++r) {
    const OpTime t = once();
    host.push_back(t.host_us);
    synced.push_back(t.synced_us);
  }
  return {median(host), median(synced)};
}

}  // namespace

int bench_overhead(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first, {"device", "ops", "torch", "json", "threads"}, {"torch"});
  if (!args.positional().empty())
    throw cli::UsageError("kiln bench overhead takes no arguments besides its flags, got '" + args.positional()[0] + "'");
  const Device device = parse_device(args.get_string("device", cuda_is_available() ? "cuda" : "cpu"));
  if (device.is_cuda() && !cuda_is_available())
    throw cli::UsageError("kiln bench overhead: --device cuda, but no CUDA device is visible (or kiln was built without CUDA)");
  const int n = static_cast<int>(args.get_int("ops", 1000, 1, 100000));
  const int thread_count = static_cast<int>(args.get_int("threads", threads(), 1, 1024));
  const std::string json = args.get_string("json", "");
  const bool torch = args.has("torch");
  set_threads(thread_count);
  manual_seed(0);

  std::printf("kiln bench overhead on %s: %d ops on a 4-element float32 tensor in a row, host time per op, median of %d "
              "repetitions; 'host' is the loop alone (on CUDA: launches queued, not waited for), 'synced' includes the "
              "one device synchronization after the loop; grad: the input requires grad (autograd records each op), "
              "nograd: the same under NoGradGuard\n",
              device.str().c_str(), n, kRepetitions);
  std::map<std::pair<std::string, std::string>, OpTime> kiln_times, torch_times;
  for (const std::string& op : kOps)
    for (const std::string& mode : kModes) {
      const OpTime t = time_op(op, mode, device, n);
      kiln_times[{op, mode}] = t;
      std::printf("kiln %s %s: %.3f µs per op (synced %.3f)\n", op.c_str(), mode.c_str(), t.host_us, t.synced_us);
    }
  TorchRun run;
  if (torch) {
    run = run_torch_script(std::string("overhead --device ") + (device.is_cuda() ? "cuda" : "cpu") + " --ops " +
                           std::to_string(n) + " --threads " + std::to_string(thread_count));
    for (const TorchLine& line : run.lines)
      if (line.kind == "OVERHEAD")
        torch_times[{line.text("op"), line.text("mode")}] = {line.number("host_us"), line.number("synced_us")};
  }

  const auto fmt = [](double v) {
    if (!std::isfinite(v)) return std::string("—");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::string(buf);
  };
  std::ostringstream table;
  table << "\n| op | mode | kiln host µs | kiln synced µs |" << (torch ? " torch host µs | torch synced µs | kiln / torch (host) |" : "")
        << "\n|---|---|---|---|" << (torch ? "---|---|---|" : "") << "\n";
  for (const auto& [key, k] : kiln_times) {
    table << "| " << key.first << " | " << key.second << " | " << fmt(k.host_us) << " | " << fmt(k.synced_us) << " |";
    if (torch) {
      const auto it = torch_times.find(key);
      const OpTime t = it == torch_times.end() ? OpTime{} : it->second;
      table << " " << fmt(t.host_us) << " | " << fmt(t.synced_us) << " | " << fmt(k.host_us / t.host_us) << " |";
    }
    table << "\n";
  }
  std::printf("%s", table.str().c_str());

  if (!json.empty()) {
    const MachineInfo machine = machine_info(device, find_source_tree());
    JsonWriter j;
    j.begin_object();
    j.field("instrument", "kiln bench overhead");
    j.key("machine").begin_object();
    j.field("cpu", machine.cpu_model).field("hardware_threads", machine.hardware_threads);
    if (device.is_cuda())
      j.field("gpu", machine.gpu_name).field("driver_cuda", machine.driver_version).field("cuda_runtime", machine.cuda_runtime);
    j.field("kiln_commit", machine.kiln_commit).field("date", machine.date_utc);
    j.end_object();
    j.field("device", device.str()).field("threads", thread_count).field("ops", n).field("repetitions", kRepetitions);
    j.field("tensor", "float32, 4 elements");
    j.field("timing", "host steady clock; host_us_per_op: the loop alone; synced_us_per_op: up to the end of one device "
                      "synchronization after the loop");
    j.key("results").begin_array();
    for (const auto& [key, k] : kiln_times) {
      j.begin_object();
      j.field("op", key.first).field("mode", key.second);
      j.key("kiln").begin_object().key("host_us_per_op").value(k.host_us).key("synced_us_per_op").value(k.synced_us).end_object();
      if (torch) {
        const auto it = torch_times.find(key);
        const OpTime t = it == torch_times.end() ? OpTime{} : it->second;
        j.key("torch").begin_object().key("host_us_per_op").value(t.host_us).key("synced_us_per_op").value(t.synced_us).end_object();
        j.key("ratio_host").value(k.host_us / t.host_us);
      }
      j.end_object();
    }
    j.end_array();
    if (torch) {
      j.key("torch").begin_object();
      j.field("version", run.torch_version).field("python", run.python).field("threads", run.threads);
      j.end_object();
    }
    j.end_object();
    write_text_file(json, j.str());
    std::printf("wrote %s\n", json.c_str());
  }
  return 0;
}

}  // namespace kiln::apps::bench
