// `kiln bench models`: one training step of each reference workload, timed as the median of steps
// after warm-up (CUDA events on a GPU, the wall clock on the CPU), with peak memory; beside PyTorch
// (benchmarks/torch/bench_models.py) with --torch. docs/benchmarks.md describes the output.
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "apps/bench/bench.h"
#include "apps/bench/bench_report.h"
#include "apps/bench/step_capture.h"
#include "apps/bench/torch_runner.h"
#include "apps/bench/workloads.h"
#include "apps/cli_args.h"
#include "core/allocator.h"
#include "core/cuda_context.h"
#include "core/error.h"
#include "core/random.h"

namespace kiln::apps::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr int kRecommendedSteps = 30;

// One measurement: a kiln or PyTorch step in one mode (eager or graph).
struct Measurement {
  bool ran = false;
  std::string skipped;  // why it did not run
  double ms = std::nan("");
  double peak_mib = std::nan("");
  double tensor_peak_mib = std::nan("");  // kiln on the CPU: the peak of bytes in tensors
  double peak_rss_mib = std::nan("");     // CPU: the process's peak resident set, absolute
  int64_t parameters = 0;
  std::string size;
  std::vector<double> round_ms;  // the median of each round (--rounds); ms is their median
};

// Files one round's measurement under `slot`: times are the median over rounds, the peak the largest.
void add_round(Measurement& slot, const Measurement& m) {
  std::vector<double> rounds = slot.round_ms;
  const double peak = slot.peak_mib, tensor_peak = slot.tensor_peak_mib, rss = slot.peak_rss_mib;
  slot = m;
  if (!m.ran) return;
  rounds.push_back(m.ms);
  slot.round_ms = rounds;
  slot.ms = median(rounds);
  const auto larger = [](double a, double b) { return std::isfinite(a) && (!std::isfinite(b) || a > b) ? a : b; };
  slot.peak_mib = larger(peak, m.peak_mib);
  slot.tensor_peak_mib = larger(tensor_peak, m.tensor_peak_mib);
  slot.peak_rss_mib = larger(rss, m.peak_rss_mib);
}

struct WorkloadReport {
  const WorkloadEntry* entry = nullptr;
  WorkloadSize size;
  std::map<std::string, Measurement> kiln;   // by mode
  std::map<std::string, Measurement> torch;  // by mode
};

struct Options {
  Device device = Device::cpu();
  std::vector<std::string> workloads;
  std::vector<std::string> modes;  // "eager", "graph"
  bool torch = false;
  bool list = false;
  std::string json, markdown;
  std::string results;  // a folder for <machine>-<date>.json and .md
  int steps = kRecommendedSteps;
  int warmup = 5;
  int rounds = 1;  // kiln then PyTorch, this many times (interleaved on a noisy machine)
  int threads = 1;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

Options parse_options(int argc, char** argv, int first) {
  cli::Args args(argc, argv, first,
                 {"device", "workload", "graph", "torch", "json", "markdown", "results", "steps", "warmup", "threads", "list",
                  "rounds"},
                 {"torch", "list"});
  if (!args.positional().empty())
    throw cli::UsageError("kiln bench models takes no arguments besides its flags, got '" + args.positional()[0] + "'");
  Options o;
  o.device = parse_device(args.get_string("device", cuda_is_available() ? "cuda" : "cpu"));
  if (o.device.is_cuda() && !cuda_is_available())
    throw cli::UsageError("kiln bench models: --device cuda, but no CUDA device is visible (or kiln was built without CUDA)");
  std::string all;
  for (const WorkloadEntry& w : workload_catalog()) all += (all.empty() ? "" : ",") + w.name;
  o.workloads = split_commas(args.get_string("workload", all));
  if (o.workloads.empty()) throw cli::UsageError("kiln bench models: --workload names no workload");
  for (const std::string& w : o.workloads) find_workload(w);
  const std::string graph = args.get_string("graph", "off");
  if (graph == "off")
    o.modes = {"eager"};
  else if (graph == "on")
    o.modes = {"graph"};
  else if (graph == "both")
    o.modes = {"eager", "graph"};
  else
    throw cli::UsageError("kiln bench models: --graph '" + graph + "' (on, off or both)");
  o.torch = args.has("torch");
  o.list = args.has("list");
  o.json = args.get_string("json", "");
  o.markdown = args.get_string("markdown", "");
  o.results = args.get_string("results", "");
  o.steps = static_cast<int>(args.get_int("steps", kRecommendedSteps, 1, 100000));
  o.warmup = static_cast<int>(args.get_int("warmup", o.device.is_cuda() ? 10 : 5, 0, 100000));
  o.threads = static_cast<int>(args.get_int("threads", threads(), 1, 1024));
  o.rounds = static_cast<int>(args.get_int("rounds", 1, 1, 100));
  return o;
}

// Resets the peak counters; returns the resident set now (the CPU's baseline), in MiB.
double reset_peaks(Device device) {
  reset_memory_peak(device);
  if (device.is_cuda()) {
    synchronize_device(device);
    release_cached_memory(device);
    reset_memory_peak(device);
    return 0.0;
  }
  reset_process_peak_rss();
  return process_rss_mib();
}

// Builds, warms up and times one workload in one mode.
Measurement measure_kiln(const std::string& name, const std::string& mode, const Options& o) {
  Measurement m;
  if (mode == "graph" && !o.device.is_cuda()) {  // nothing to build: the capture could not run anyway
    std::string why_not;
    capture_whole_step([] {}, o.device, why_not);
    m.skipped = why_not;
    return m;
  }
  manual_seed(0);
  const double rss_before = reset_peaks(o.device);
  Workload w = make_workload(name, o.device);
  m.parameters = w.parameters;
  m.size = size_text(name, w.size);
  StepFunction step = w.step;
  for (int i = 0; i < o.warmup; ++i) step();
  if (mode == "graph") {
    std::string why_not;
    std::optional<StepFunction> replay = capture_whole_step(step, o.device, why_not);
    if (!replay) {
      m.skipped = why_not;
      return m;
    }
    step = *replay;
  }
  synchronize_device(o.device);
  StepTimer timer(o.device);
  std::vector<double> times;
  for (int i = 0; i < o.steps; ++i) times.push_back(timer.time_ms(step));
  synchronize_device(o.device);
  m.ran = true;
  m.ms = median(times);
  const MemoryCounters counters = memory_counters(o.device);
  if (o.device.is_cuda()) {
    m.peak_mib = static_cast<double>(counters.peak) / kMiB;
  } else {
    m.peak_rss_mib = process_peak_rss_mib();
    m.peak_mib = m.peak_rss_mib - rss_before;
    m.tensor_peak_mib = static_cast<double>(counters.peak) / kMiB;
  }
  return m;
}

std::string fmt(double v, const char* format = "%.2f") {
  if (!std::isfinite(v)) return "—";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ratio(double kiln_ms, double torch_ms) {
  return std::isfinite(kiln_ms) && std::isfinite(torch_ms) && torch_ms > 0 ? fmt(kiln_ms / torch_ms, "%.2f×") : "—";
}

std::string peak_meaning(Device device) {
  return device.is_cuda() ? "the caching allocator's peak of allocated bytes (reset before each workload), each side"
                          : "the growth of the process's resident set during the workload (Linux VmHWM, reset before "
                            "the workload is built, minus VmRSS then), each side";
}

std::string markdown_table(const std::vector<WorkloadReport>& reports, const Options& o) {
  std::string t;
  const bool gpu = o.device.is_cuda();
  t += "| workload | size | kiln mode | kiln ms | ";
  if (o.torch) t += gpu ? "torch eager ms | torch graph ms | kiln / torch eager | kiln / torch graph | "
                        : "torch eager ms | kiln / torch eager | ";
  t += o.torch ? "kiln peak MiB | torch peak MiB |\n" : "kiln peak MiB |\n";
  const int columns = 5 + (o.torch ? (gpu ? 5 : 3) : 0);
  for (int i = 0; i < columns; ++i) t += "|---";
  t += "|\n";
  for (const WorkloadReport& r : reports) {
    const std::string size = size_text(r.entry->name, r.size);
    if (!r.entry->unavailable.empty()) {
      std::ostringstream row;
      row << "| " << r.entry->name << " | " << size << " | " << r.entry->unavailable << " |";
      t += row.str();
      for (int i = 3; i < columns; ++i) t += " |";
      t += "\n";
      continue;
    }
    const auto torch_ms = [&](const char* mode) {
      const auto it = r.torch.find(mode);
      return it == r.torch.end() ? std::nan("") : it->second.ms;
    };
    const auto torch_peak = r.torch.count("eager") ? r.torch.at("eager").peak_mib : std::nan("");
    for (const auto& [mode, k] : r.kiln) {
      std::ostringstream row;
      row << "| " << r.entry->name << " | " << size << " | " << mode << " | "
          << (k.ran ? fmt(k.ms) : "not run: " + k.skipped) << " | ";
      if (o.torch) {
        row << fmt(torch_ms("eager")) << " | ";
        if (gpu) row << fmt(torch_ms("graph")) << " | ";
        row << ratio(k.ms, torch_ms("eager")) << " | ";
        if (gpu) row << ratio(k.ms, torch_ms("graph")) << " | ";
      }
      row << fmt(k.peak_mib, "%.1f") << " |";
      if (o.torch) row << " " << fmt(torch_peak, "%.1f") << " |";
      t += row.str();
      t += "\n";
    }
  }
  return t;
}

void write_measurement(JsonWriter& j, const Measurement& m) {
  j.begin_object();
  j.field("ran", m.ran);
  if (!m.ran) j.field("skipped", m.skipped);
  j.key("ms").value(m.ms);
  j.key("peak_mib").value(m.peak_mib);
  if (std::isfinite(m.tensor_peak_mib)) j.key("tensor_peak_mib").value(m.tensor_peak_mib);
  if (std::isfinite(m.peak_rss_mib)) j.key("peak_rss_mib").value(m.peak_rss_mib);
  j.field("parameters", m.parameters);
  if (m.round_ms.size() > 1) {
    j.key("round_ms").begin_array();
    for (double v : m.round_ms) j.value(v);
    j.end_array();
  }
  j.end_object();
}

std::string json_report(const std::vector<WorkloadReport>& reports, const Options& o, const MachineInfo& machine,
                        const TorchRun* torch, const std::string& timing) {
  JsonWriter j;
  j.begin_object();
  j.field("instrument", "kiln bench models");
  j.key("machine").begin_object();
  j.field("cpu", machine.cpu_model).field("hardware_threads", machine.hardware_threads).field("blas", machine.blas);
  if (o.device.is_cuda())
    j.field("gpu", machine.gpu_name).field("driver_cuda", machine.driver_version).field("cuda_runtime", machine.cuda_runtime)
        .field("cudnn", machine.cudnn_version);
  j.field("kiln_commit", machine.kiln_commit).field("date", machine.date_utc);
  j.end_object();
  j.field("device", o.device.str()).field("threads", o.threads).field("timing", timing);
  j.field("steps", o.steps).field("warmup", o.warmup).field("rounds", o.rounds).field("peak_memory", peak_meaning(o.device));
  if (!o.device.is_cuda()) j.field("tensor_peak_memory", "kiln only: the peak of bytes kiln's CPU allocator had handed out to tensors");
  j.key("workloads").begin_array();
  for (const WorkloadReport& r : reports) {
    j.begin_object();
    j.field("name", r.entry->name).field("description", r.entry->description);
    j.key("size").begin_object();
    j.field("batch", r.size.batch);
    if (r.size.steps) j.field("sequence", r.size.steps);
    if (r.size.context) j.field("context", r.size.context);
    if (r.size.layers) j.field("layers", r.size.layers);
    j.field("text", size_text(r.entry->name, r.size));
    j.end_object();
    j.field("available", r.entry->unavailable.empty());
    if (!r.entry->unavailable.empty()) j.field("unavailable", r.entry->unavailable);
    j.key("kiln").begin_object();
    for (const auto& [mode, m] : r.kiln) write_measurement(j.key(mode), m);
    j.end_object();
    if (torch) {
      j.key("torch").begin_object();
      for (const auto& [mode, m] : r.torch) write_measurement(j.key(mode), m);
      j.end_object();
      j.key("ratios").begin_object();
      for (const auto& [kmode, k] : r.kiln)
        for (const auto& [tmode, t] : r.torch)
          if (k.ran && t.ran) j.key("kiln_" + kmode + "/torch_" + tmode).value(k.ms / t.ms);
      j.end_object();
    }
    j.end_object();
  }
  j.end_array();
  if (torch) {
    j.key("torch").begin_object();
    j.field("version", torch->torch_version).field("python", torch->python).field("threads", torch->threads);
    j.end_object();
  }
  j.end_object();
  return j.str();
}

// Runs the PyTorch script on the workloads kiln ran and files its results under each report.
TorchRun run_torch(std::vector<WorkloadReport>& reports, const Options& o) {
  std::string names;
  for (const WorkloadReport& r : reports)
    if (r.entry->unavailable.empty()) names += (names.empty() ? "" : ",") + r.entry->name;
  TorchRun run;
  if (names.empty()) return run;
  const std::string args = std::string("models --device ") + (o.device.is_cuda() ? "cuda" : "cpu") +
                           " --workloads " + shell_quote(names) + " --steps " + std::to_string(o.steps) +
                           " --warmup " + std::to_string(o.warmup) + " --threads " + std::to_string(o.threads) +
                           " --graph " + (o.device.is_cuda() ? "both" : "off");
  run = run_torch_script(args);
  for (const TorchLine& line : run.lines) {
    for (WorkloadReport& r : reports) {
      if (line.text("workload") != r.entry->name) continue;
      Measurement m;
      if (line.kind == "SKIP") {
        m.skipped = line.text("reason");
      } else {
        m.ran = true;
        m.ms = line.number("ms");
        m.peak_mib = line.number("peak_mib");
        m.peak_rss_mib = line.number("peak_rss_mib");
        m.parameters = static_cast<int64_t>(line.number("params"));
        m.size = line.text("size");
        const std::string ours = size_text(r.entry->name, r.size);
        KILN_CHECK(m.size == ours, "kiln bench models --torch: PyTorch ran ", r.entry->name, " at '", m.size,
                   "' and kiln at '", ours, "': keep SIZES in benchmarks/torch/bench_models.py in step with "
                   "apps/bench/workloads.cpp");
        const auto k = r.kiln.find("eager");
        if (k != r.kiln.end() && k->second.parameters != m.parameters)
          std::printf("warning: %s has %lld parameters in kiln and %lld in PyTorch: the models differ\n",
                      r.entry->name.c_str(), static_cast<long long>(k->second.parameters),
                      static_cast<long long>(m.parameters));
      }
      add_round(r.torch[line.text("mode")], m);
    }
  }
  return run;
}

void list_workloads(const Options& o) {
  std::printf("workloads of kiln bench models on %s:\n", o.device.str().c_str());
  for (const WorkloadEntry& e : workload_catalog()) {
    const WorkloadSize s = workload_size(e.name, o.device);
    if (!e.unavailable.empty()) {
      std::printf("  %-10s %s (%s)\n", e.name.c_str(), size_text(e.name, s).c_str(), e.unavailable.c_str());
      continue;
    }
    manual_seed(0);
    const Workload w = make_workload(e.name, o.device);
    std::printf("  %-10s %s, %lld parameters: %s\n", e.name.c_str(), size_text(e.name, s).c_str(),
                static_cast<long long>(w.parameters), e.description.c_str());
  }
}

}  // namespace

int bench_models(int argc, char** argv, int first) {
  Options o = parse_options(argc, argv, first);
  if (o.list) {
    list_workloads(o);
    return 0;
  }
  set_threads(o.threads);
  const MachineInfo machine = machine_info(o.device, find_source_tree());
  if (!o.results.empty()) {  // benchmarks/results/<gpu>-<date>.json and .md, unless named on their own
    const std::string stem = o.results + "/" + machine_short_name(machine, o.device) + "-" + machine.date_utc.substr(0, 10);
    if (o.json.empty()) o.json = stem + ".json";
    if (o.markdown.empty()) o.markdown = stem + ".md";
  }
  std::string timing = std::string(o.device.is_cuda() ? "CUDA events" : "wall clock") + ", median of " +
                       std::to_string(o.steps) + " steps after " + std::to_string(o.warmup) + " warm-up steps";
  if (o.rounds > 1)
    timing += "; " + std::to_string(o.rounds) + " rounds of kiln then PyTorch, the median of the rounds' medians";
  std::printf("kiln bench models on %s (%s), %d thread%s each side (kiln: OpenMP and OpenBLAS; PyTorch: "
              "torch.set_num_threads)\n",
              o.device.is_cuda() ? machine.gpu_name.c_str() : "the CPU", machine.cpu_model.c_str(), o.threads,
              o.threads == 1 ? "" : "s");
  std::printf("timing: %s; peak memory: %s\n", timing.c_str(), peak_meaning(o.device).c_str());
  if (o.steps < kRecommendedSteps)
    std::printf("note: %d timed steps is below the %d a benchmark figure needs (fine for a quick check)\n", o.steps,
                kRecommendedSteps);
  if (!o.device.is_cuda()) std::printf("note: the CPU runs the scaled-down sizes below (the GPU runs the reference sizes)\n");
  std::vector<WorkloadReport> reports;
  for (const std::string& name : o.workloads) {
    WorkloadReport r;
    r.entry = &find_workload(name);
    r.size = workload_size(name, o.device);
    if (!r.entry->unavailable.empty()) std::printf("%s: %s\n", name.c_str(), r.entry->unavailable.c_str());
    reports.push_back(r);
  }
  TorchRun torch;
  for (int round = 1; round <= o.rounds; ++round) {
    if (o.rounds > 1) std::printf("round %d of %d\n", round, o.rounds);
    for (WorkloadReport& r : reports) {
      if (!r.entry->unavailable.empty()) continue;
      for (const std::string& mode : o.modes) {
        const Measurement m = measure_kiln(r.entry->name, mode, o);
        if (m.ran)
          std::printf("%s (%s, %lld parameters) %s: %.3f ms per step, peak %.1f MiB\n", r.entry->name.c_str(),
                      m.size.c_str(), static_cast<long long>(m.parameters), mode.c_str(), m.ms, m.peak_mib);
        else
          std::printf("%s %s: not run: %s\n", r.entry->name.c_str(), mode.c_str(), m.skipped.c_str());
        std::fflush(stdout);
        add_round(r.kiln[mode], m);
      }
    }
    if (o.torch) torch = run_torch(reports, o);
  }
  const std::string table = markdown_table(reports, o);
  std::printf("\n%s", table.c_str());
  if (!o.markdown.empty()) {
    std::string md = "# kiln bench models, " + machine.date_utc + "\n\n";
    md += "Device: " + (o.device.is_cuda() ? machine.gpu_name + " (driver CUDA " + machine.driver_version + ", runtime " +
                                                 machine.cuda_runtime + ", cuDNN " + machine.cudnn_version + ")"
                                           : std::string("CPU")) +
          "; CPU: " + machine.cpu_model + "; threads each side: " + std::to_string(o.threads) +
          "; kiln " + machine.kiln_commit + (o.torch ? "; PyTorch " + torch.torch_version : "") + ".\n";
    md += "Timing: " + timing + ". Peak memory: " + peak_meaning(o.device) + ".\n\n" + table;
    write_text_file(o.markdown, md);
    std::printf("wrote %s\n", o.markdown.c_str());
  }
  if (!o.json.empty()) {
    write_text_file(o.json, json_report(reports, o, machine, o.torch ? &torch : nullptr, timing));
    std::printf("wrote %s\n", o.json.c_str());
  }
  return 0;
}

}  // namespace kiln::apps::bench
