#include "apps/bench/bench_report.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/cuda_context.h"
#include "core/cuda_check.h"
#include "core/error.h"

#if KILN_HAVE_CUDA
#include <cuda_runtime.h>
#endif
#if KILN_HAVE_CUDNN
#include <cudnn.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#if KILN_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace kiln::apps::bench {

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}


StepTimer::StepTimer(Device device) : device_(device) {
  if (!device.is_cuda()) return;
#if KILN_HAVE_CUDA
  cuda::use_device(device.index);
  cudaEvent_t a = nullptr, b = nullptr;
  KILN_CUDA_CHECK(cudaEventCreate(&a));
  KILN_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a;
  stop_ = b;
#else
  throw Error("kiln bench: this kiln was built without CUDA");
#endif
}

StepTimer::~StepTimer() {
#if KILN_HAVE_CUDA
  if (start_) KILN_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(start_)));
  if (stop_) KILN_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(stop_)));
#endif
}

double StepTimer::time_ms(const std::function<void()>& fn) {
  if (!device_.is_cuda()) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
#if KILN_HAVE_CUDA
  auto stream = static_cast<cudaStream_t>(cuda::current_stream(device_.index));
  auto a = static_cast<cudaEvent_t>(start_), b = static_cast<cudaEvent_t>(stop_);
  KILN_CUDA_CHECK(cudaEventRecord(a, stream));
  fn();
  KILN_CUDA_CHECK(cudaEventRecord(b, stream));
  KILN_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0.0f;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
#else
  return 0.0;
#endif
}

std::string StepTimer::method() const { return device_.is_cuda() ? "CUDA events" : "wall clock"; }

void synchronize_device(Device device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

void reset_process_peak_rss() {
  malloc_trim(0);  // free heap pages back to the system, so that the new baseline is what is in use
  std::ofstream out("/proc/self/clear_refs");
  if (out) out << "5";
}

namespace {
// A "Name:  1234 kB" line of /proc/self/status, in MiB.
double proc_status_mib(const char* name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(name);
  while (std::getline(in, line))
    if (line.compare(0, n, name) == 0) return std::strtod(line.c_str() + n, nullptr) / 1024.0;
  return -1.0;
}
}  // namespace

double process_rss_mib() { return proc_status_mib("VmRSS:"); }
double process_peak_rss_mib() { return proc_status_mib("VmHWM:"); }

double host_now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void set_threads(int n) {
  KILN_CHECK(n >= 1, "kiln bench: thread count ", n, " (at least 1)");
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#if KILN_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace {

std::string read_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "";
}

std::string first_line(std::string text) {
  const auto nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  return text;
}

}  // namespace

MachineInfo machine_info(Device device, const std::string& repo_root) {
  MachineInfo m;
  m.cpu_model = read_cpu_model();
  m.hardware_threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
#if KILN_HAVE_OPENBLAS
  m.blas = "OpenBLAS";
#else
  m.blas = "plain loops";
#endif
#if KILN_HAVE_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device.index) == cudaSuccess) m.gpu_name = prop.name;
    int v = 0;
    if (cudaDriverGetVersion(&v) == cudaSuccess) m.driver_version = std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) m.cuda_runtime = std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
  }
#endif
#if KILN_HAVE_CUDNN
  if (device.is_cuda()) {
    // cudnnGetVersion: major·10000 + minor·100 + patch since cuDNN 9 (major·1000 + minor·100 + patch before).
    const size_t v = cudnnGetVersion();
    m.cudnn_version = v >= 90000 ? std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100)
                                 : std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100) + "." + std::to_string(v % 100);
  }
#endif
  (void)device;
  if (!repo_root.empty() && std::filesystem::exists(std::filesystem::path(repo_root) / ".git")) {
    const CommandResult r = run_command("git -C " + shell_quote(repo_root) + " describe --always --dirty 2>/dev/null", false);
    if (r.status == 0) m.kiln_commit = first_line(r.output);
  }
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date_utc = buf;
  return m;
}

std::string machine_short_name(const MachineInfo& info, Device device) {
  if (!device.is_cuda() || info.gpu_name.empty()) return "cpu";
  // "NVIDIA H100 80GB HBM3" → "h100": the first word with a digit, lower case.
  std::istringstream words(info.gpu_name);
  std::string w;
  while (words >> w) {
    if (std::any_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return w;
    }
  }
  return "gpu";
}

// ---------------------------------------------------------------- JSON
std::string json_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ",";
    first_.back() = false;
    newline();
  }
}

void JsonWriter::newline() {
  out_ += '\n';
  out_.append(2 * first_.size(), ' ');
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += "{";
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) newline();
  out_ += "}";
  if (first_.empty()) out_ += "\n";
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += "[";
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) newline();
  out_ += "]";
  return *this;
}

JsonWriter& JsonWriter::key(const std::string& name) {
  before_value();
  out_ += '"';
  out_ += json_escape(name);
  out_ += "\": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& text) {
  before_value();
  out_ += '"';
  out_ += json_escape(text);
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  if (!std::isfinite(number)) return null();
  before_value();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", number);
  out_ += buf;
  return *this;
}

JsonWriter& JsonWriter::value(int64_t number) {
  before_value();
  out_ += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  before_value();
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(const std::string& json) {
  before_value();
  std::string trimmed = json;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
  out_ += trimmed.empty() ? "null" : trimmed;
  return *this;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    KILN_CHECK(out.good(), "kiln bench: cannot write '", path, "'");
    out << text;
    out.close();
    KILN_CHECK(!out.fail(), "kiln bench: writing '", path, "' failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("kiln bench: cannot write '" + path + "'");
  }
}

// ---------------------------------------------------------------- the source tree and Python
std::string find_source_tree() {
  namespace fs = std::filesystem;
  const fs::path script = fs::path("benchmarks") / "torch" / "bench_models.py";
  if (const char* env = std::getenv("KILN_SOURCE_DIR"); env && *env) return env;
  std::error_code ec;
  std::vector<fs::path> starts;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  starts.push_back(fs::current_path(ec));
  for (fs::path dir : starts) {
    for (int up = 0; up < 8 && !dir.empty(); ++up) {
      if (fs::exists(dir / script, ec)) return dir.string();
      if (dir == dir.parent_path()) break;
      dir = dir.parent_path();
    }
  }
  return "";
}

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult run_command(const std::string& command, bool echo) {
  CommandResult r;
  std::fflush(stdout);
  FILE* pipe = popen(command.c_str(), "r");
  KILN_CHECK(pipe != nullptr, "kiln bench: cannot run '", command, "'");
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) {
    r.output += buf;
    if (echo) {
      std::fputs(buf, stdout);
      std::fflush(stdout);
    }
  }
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Whether torch is installed, without the seconds importing it takes.
constexpr const char* kHasTorch = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)";

std::optional<std::string> find_torch_python(std::string& tried) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KILN_PYTHON"); env && *env) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  tried.clear();
  for (const std::string& c : candidates) {
    tried += (tried.empty() ? "" : ", ") + c;
    if (run_command(shell_quote(c) + " -c " + shell_quote(kHasTorch) + " >/dev/null 2>&1", false).status == 0) return c;
  }
  return std::nullopt;
}

}  // namespace kiln::apps::bench
