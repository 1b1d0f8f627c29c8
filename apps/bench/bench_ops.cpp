// `kiln bench ops [--device cpu|cuda] [--op NAME] [--json FILE] [--quick]`: the kernel lab (docs/kernel-lab.md).
// Checks every registered version of every family against the CPU reference, times those that pass, prints
// the table (with the winner of each family) and writes it all as JSON. Exit code 1 when a version failed.
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps/bench/bench.h"
#include "apps/bench/lab_registry.h"
#include "apps/bench/lab_run.h"
#include "apps/bench/lab_timer.h"
#include "apps/cli_args.h"
#include "apps/train_options.h"
#include "core/serialization/atomic_file.h"

namespace kiln::apps::bench {

int bench_ops(int argc, char** argv, int first) {
  const cli::Args args(argc, argv, first, {"device", "op", "json", "quick"}, {"quick"});
  if (!args.positional().empty())
    throw cli::UsageError("kiln bench ops: unexpected argument '" + args.positional()[0] + "'");
  LabOptions options;
  options.device = parse_device(args.get_string("device", "auto"));
  options.quick = args.has("quick");

  const auto all = kernel_lab_families();
  std::vector<std::shared_ptr<LabFamilyBase>> chosen;
  std::shared_ptr<LabFamilyBase> gemm;
  std::string names;
  for (const auto& f : all) {
    if (!names.empty()) names += ", ";
    names += f->name;
    if (f->name == "gemm") gemm = f;
  }
  if (args.has("op")) {
    const std::string op = args.get_string("op", "");
    for (const auto& f : all)
      if (f->name == op) chosen.push_back(f);
    if (chosen.empty()) throw cli::UsageError("kiln bench ops: unknown --op '" + op + "' (families: " + names + ")");
  } else {
    chosen = all;
  }
  const std::string json_path = args.get_string("json", "");
  if (!json_path.empty()) {  // refused before the lab runs, not after minutes of timing
    const std::filesystem::path parent = std::filesystem::path(json_path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent))
      throw cli::UsageError("--json " + json_path + ": folder '" + parent.string() + "' does not exist");
  }

  LabTimer timer(options.device, options.quick);
  const LabReport report = run_kernel_lab(chosen, gemm, options, timer, stderr);
  print_lab_table(report, stdout);
  if (!json_path.empty()) {
    const std::string json = lab_report_json(report);
    write_file_atomically(json_path, json.data(), json.size());
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  if (!report.all_passed()) {
    std::fprintf(stderr, "kiln bench ops: a version FAILED its check against the CPU reference (see the table)\n");
    return 1;
  }
  return 0;
}

}  // namespace kiln::apps::bench
