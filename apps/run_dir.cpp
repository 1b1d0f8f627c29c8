#include "apps/run_dir.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "apps/cli_args.h"
#include "core/error.h"
#include "core/serialization/atomic_file.h"
#include "data/file_bytes.h"

namespace kiln::apps {
namespace fs = std::filesystem;

std::string config_to_json(const Config& config) {
  std::string out = "{\n";
  size_t i = 0;
  for (const auto& [k, v] : config) {
    auto quote = [](const std::string& s) {
      std::string q = "\"";
      for (char c : s) {
        if (c == '"' || c == '\\') q += '\\';
        if (c == '\n') {
          q += "\\n";
          continue;
        }
        q += c;
      }
      return q + "\"";
    };
    out += "  " + quote(k) + ": " + quote(v) + (++i < config.size() ? ",\n" : "\n");
  }
  return out + "}\n";
}

Config config_from_json(const std::string& text, const std::string& source) {
  Config config;
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto fail = [&](const char* what) { KILN_FAIL("'", source, "' is not a kiln config: ", what, " at byte ", i); };
  auto string = [&] {
    skip();
    if (i >= text.size() || text[i] != '"') fail("expected a string");
    std::string s;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        s += text[i] == 'n' ? '\n' : text[i];
      } else {
        s += text[i];
      }
    }
    if (i >= text.size()) fail("unterminated string");
    ++i;
    return s;
  };
  skip();
  if (i >= text.size() || text[i++] != '{') fail("expected '{'");
  skip();
  if (i < text.size() && text[i] == '}') return config;
  while (true) {
    std::string key = string();
    skip();
    if (i >= text.size() || text[i++] != ':') fail("expected ':'");
    config[key] = string();
    skip();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') break;
    fail("expected ',' or '}'");
  }
  return config;
}

void check_run_folder_path(const std::string& out) {
  if (out.empty()) return;
  const fs::path folder = fs::absolute(out).lexically_normal();
  if (folder == folder.root_path())
    throw cli::UsageError("--out '" + out + "' is the root of the file system, which cannot be a run folder (nor " +
                          "get a sibling such as '/-2'); give a new folder such as runs/NAME");
}

RunDir RunDir::create(const std::string& out, const std::string& model) {
  check_run_folder_path(out);
  // "runs/x/", "runs/x/." and "." name a folder: its next free name is runs/x-2 (not runs/x/-2), or for "."
  // the current folder's name with -2.
  std::string base = out.empty() ? "" : fs::absolute(out).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base.empty()) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    base = "runs/" + model + "-" + stamp;
  }
  // A run never writes into a folder that holds anything (another run, or files of the user's) or that
  // another kiln process is writing: it takes the first free name of base, base-2, base-3, ... and says
  // so when that is not the folder asked for. The lock, taken before the second look, settles a race
  // between two kiln processes that found the same empty name.
  auto holds_files = [](const std::string& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return false;
    if (!fs::is_directory(p, ec)) return true;
    for (const auto& entry : fs::directory_iterator(p, ec))
      if (entry.path().filename() != ".lock") return true;
    return false;
  };
  for (int n = 1;; ++n) {
    const std::string path = n == 1 ? base : base + "-" + std::to_string(n);
    if (holds_files(path)) continue;
    std::error_code ec;
    fs::create_directories(path, ec);
    // The folder asked for holds files and its next free name cannot be made (a read-only parent): say
    // both, since the user never typed the -N name.
    KILN_CHECK(!ec || path == base || out.empty(), "--out '", out, "' is not empty, and kiln cannot create '",
               path, "' beside it for this run (", ec.message(), "); give a new folder to --out");
    KILN_CHECK(!ec, "cannot create the run folder '", path, "': ", ec.message());
    std::shared_ptr<RunLock> lock = RunLock::try_acquire(path);
    if (!lock || holds_files(path)) continue;
    fs::create_directories(fs::path(path) / "samples", ec);
    KILN_CHECK(!ec, "cannot create the run folder '", path, "': ", ec.message());
    if (!out.empty() && path != base)
      std::fprintf(stderr, "kiln: '%s' is not empty or in use; this run goes to '%s'\n", out.c_str(), path.c_str());
    RunDir run(path);
    run.lock_ = std::move(lock);
    return run;
  }
}

void RunDir::lock_for_writing() {
  lock_ = RunLock::try_acquire(path_);
  KILN_CHECK(lock_ != nullptr, "run folder '", path_, "' is being written by another kiln process (a training ",
             "or resume of it is running); wait for it to end, or stop it first");
  remove_stale_temporaries(path_);
  std::error_code ec;
  fs::create_directories(fs::path(path_) / "samples", ec);
  KILN_CHECK(!ec, "cannot create '", file("samples"), "': ", ec.message());
}

RunDir RunDir::open(const std::string& path) {
  KILN_CHECK(fs::is_directory(path), "run folder '", path, "' does not exist");
  KILN_CHECK(fs::exists(fs::path(path) / "config.json"), "'", path, "' is not a kiln run folder (no config.json)");
  RunDir run(path);
  run.load_metrics();
  return run;
}

std::string RunDir::sample_stem(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "samples/step-%06lld", (long long)step);
  return file(name);
}

void RunDir::write_config(const Config& config) const {
  const std::string text = config_to_json(config);
  write_file_atomically(file("config.json"), text.data(), text.size());
}

Config RunDir::read_config() const {
  std::vector<uint8_t> bytes = data::read_file_bytes(file("config.json"));
  return config_from_json(std::string(bytes.begin(), bytes.end()), file("config.json"));
}

void RunDir::log(int64_t step, const std::vector<std::pair<std::string, double>>& metrics) {
  const bool fresh = !fs::exists(file("metrics.csv"));
  std::ofstream csv(file("metrics.csv"), std::ios::app);
  KILN_CHECK(csv.good(), "cannot write '", file("metrics.csv"), "'");
  if (fresh) csv << "step,metric,value\n";
  for (const auto& [name, value] : metrics) {
    csv << step << "," << name << "," << value << "\n";
    series_named(name).points.emplace_back(double(step), value);
  }
  csv.flush();
  KILN_CHECK(csv.good(), "cannot write '", file("metrics.csv"), "': ", std::strerror(errno));
}

report::Series& RunDir::series_named(const std::string& name) {
  auto it = std::find_if(series_.begin(), series_.end(), [&](const report::Series& s) { return s.name == name; });
  return it != series_.end() ? *it : series_.emplace_back(report::Series{name, {}});
}

void RunDir::load_metrics() {
  series_.clear();
  std::ifstream csv(file("metrics.csv"));
  std::string line;
  bool first = true;
  while (std::getline(csv, line)) {
    if (std::exchange(first, false) && line == "step,metric,value") continue;  // the header
    std::istringstream fields(line);
    std::string step, name, value;
    if (!std::getline(fields, step, ',') || !std::getline(fields, name, ',') || !std::getline(fields, value)) continue;
    try {
      series_named(name).points.emplace_back(std::stod(step), std::stod(value));
    } catch (const std::exception&) {  // a torn last line after a crash: ignored
    }
  }
}

void RunDir::truncate_metrics(int64_t last_step) {
  std::ifstream in(file("metrics.csv"));
  if (!in) return;
  // The header is written anew, not copied: a file left empty (or headless) by a crash must not lose it
  // for good, with the first row read as the header from then on. The old header line, like a torn line,
  // has no step number and is dropped below.
  std::string kept = "step,metric,value\n", line;
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    try {
      if (std::stoll(line.substr(0, comma)) <= last_step) kept += line + "\n";
    } catch (const std::exception&) {  // a torn line: dropped
    }
  }
  in.close();
  write_file_atomically(file("metrics.csv"), kept.data(), kept.size());
  load_metrics();
}

std::string RunDir::write_curves(const std::string& title) const {
  const std::string svg = report::svg_line_plot(series_, {.title = title});
  write_file_atomically(file("curves.svg"), svg.data(), svg.size());
  return svg;
}

}  // namespace kiln::apps
