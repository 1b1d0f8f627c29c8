// Running benchmarks/torch/bench_models.py (the PyTorch counterparts of `kiln bench models` and
// `kiln bench overhead`) from kiln, and reading the result lines it prints.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace kiln::apps::bench {

// One line the script printed, e.g. "RESULT workload=gpt mode=eager ms=12.5 ... size=batch 8 x 64, 2 layers":
// kind "RESULT", fields by name. The fields `size` and `reason` run to the end of the line.
struct TorchLine {
  std::string kind;
  std::map<std::string, std::string> fields;
  double number(const std::string& name) const;  // NaN when missing or not a number
  std::string text(const std::string& name) const;
};

struct TorchRun {
  std::string python;         // the interpreter used
  std::string torch_version;  // from the script's INFO line
  int threads = 0;            // torch.get_num_threads() in the script
  std::vector<TorchLine> lines;
};

// Runs `bench_models.py ARGS` (args already shell-quoted) with a Python that imports torch, echoing its
// output. Throws kiln::Error when no Python imports torch (naming what to install), when the script is
// not found, or when it fails.
TorchRun run_torch_script(const std::string& args);

}  // namespace kiln::apps::bench
