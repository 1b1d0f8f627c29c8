#include "apps/bench/torch_runner.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "apps/bench/bench_report.h"
#include "core/error.h"

namespace kiln::apps::bench {

double TorchLine::number(const std::string& name) const {
  const auto it = fields.find(name);
  if (it == fields.end() || it->second.empty()) return std::nan("");
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  return end && *end == '\0' ? v : std::nan("");
}

std::string TorchLine::text(const std::string& name) const {
  const auto it = fields.find(name);
  return it == fields.end() ? "" : it->second;
}

namespace {

TorchLine parse_line(const std::string& line) {
  TorchLine t;
  const auto space = line.find(' ');
  t.kind = line.substr(0, space);
  size_t pos = space == std::string::npos ? line.size() : space + 1;
  while (pos < line.size()) {
    const auto eq = line.find('=', pos);
    if (eq == std::string::npos) break;
    const std::string key = line.substr(pos, eq - pos);
    size_t end = (key == "size" || key == "reason") ? line.size() : line.find(' ', eq + 1);
    if (end == std::string::npos) end = line.size();
    t.fields[key] = line.substr(eq + 1, end - eq - 1);
    pos = end + 1;
  }
  return t;
}

}  // namespace

TorchRun run_torch_script(const std::string& args) {
  const std::string root = find_source_tree();
  KILN_CHECK(!root.empty(),
             "kiln bench --torch: cannot find benchmarks/torch/bench_models.py above the kiln executable or the "
             "working directory; set KILN_SOURCE_DIR to kiln's source folder");
  const std::string script = (std::filesystem::path(root) / "benchmarks" / "torch" / "bench_models.py").string();
  std::string tried;
  const auto python = find_torch_python(tried);
  KILN_CHECK(python.has_value(), "kiln bench --torch: no Python here can import torch (tried ", tried,
             "); install PyTorch (Debian: apt-get install python3-torch) or point KILN_PYTHON at a Python that has it");
  TorchRun run;
  run.python = *python;
  std::printf("PyTorch side: %s %s %s\n", python->c_str(), script.c_str(), args.c_str());
  const CommandResult r = run_command(shell_quote(*python) + " " + shell_quote(script) + " " + args, true);
  KILN_CHECK(r.status == 0, "kiln bench --torch: ", script, " failed (exit status ", r.status, ")");
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    TorchLine t = parse_line(line);
    if (t.kind == "INFO") {
      run.torch_version = t.text("torch");
      run.threads = static_cast<int>(t.number("threads"));
    } else if (t.kind == "RESULT" || t.kind == "SKIP" || t.kind == "OVERHEAD") {
      run.lines.push_back(std::move(t));
    }
  }
  return run;
}

}  // namespace kiln::apps::bench
