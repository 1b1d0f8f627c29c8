// Shared pieces of the `kiln bench` instruments, self-contained (kiln core only): the median, a step
// timer (CUDA events on a GPU, the wall clock on the CPU), thread settings, the machine's description
// (CPU model, GPU, driver, CUDA and cuDNN versions, kiln's commit), a small JSON writer, and running a
// Python that can import torch. Used by bench_models.cpp and bench_overhead.cpp; the kernel lab may use it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"

namespace kiln::apps::bench {

// The median of `values` (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

// Times one call of a function in milliseconds: on a CUDA device between two CUDA events recorded on
// kiln's current stream around the call (then waits for the second event); on the CPU with the steady
// wall clock. The function must not synchronize for the CUDA figure to mean device time.
class StepTimer {
 public:
  explicit StepTimer(Device device);
  ~StepTimer();
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;
  double time_ms(const std::function<void()>& fn);
  // "CUDA events" or "wall clock".
  std::string method() const;

 private:
  Device device_;
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

// Waits for the device's queued work (nothing on the CPU).
void synchronize_device(Device device);

// The process's resident set now (Linux VmRSS) and at its peak (VmHWM) in MiB, and resetting the peak
// to the current resident set (writing 5 to /proc/self/clear_refs), so that the peak of one workload can
// be read; -1 where the system does not tell. The reset first returns the C heap's free pages to the
// system (malloc_trim), or memory freed by an earlier workload would hide this one's growth.
void reset_process_peak_rss();
double process_rss_mib();
double process_peak_rss_mib();

// Microseconds on the steady clock since an arbitrary start (host time).
double host_now_us();

// CPU threads for kiln's kernels: OpenMP's and OpenBLAS's counts. threads() reads OpenMP's (which
// OMP_NUM_THREADS sets), 1 in a build without OpenMP.
void set_threads(int threads);
int threads();

// What the numbers were measured on. Fields that cannot be found are empty.
struct MachineInfo {
  std::string cpu_model;       // /proc/cpuinfo "model name"
  int hardware_threads = 0;
  std::string gpu_name;        // CUDA: the device's name
  std::string driver_version;  // CUDA: the driver's supported CUDA version, e.g. "13.0" (cudaDriverGetVersion)
  std::string cuda_runtime;    // CUDA: the runtime kiln was linked with, e.g. "13.0"
  std::string cudnn_version;   // cuDNN: e.g. "9.14.0"
  std::string kiln_commit;     // git describe of the source tree, when it can be found
  std::string date_utc;        // ISO 8601
  std::string blas;            // "OpenBLAS" or "plain loops"
};
// device: the device measured (GPU fields only for CUDA). repo_root: kiln's source tree, for the commit
// ("" to skip it).
MachineInfo machine_info(Device device, const std::string& repo_root);
// A short name for results files: the GPU's ("h100") or "cpu".
std::string machine_short_name(const MachineInfo& info, Device device);

// A JSON document written in order: begin/end objects and arrays, keys, values. Commas and string
// escapes are handled; numbers that are not finite are written as null.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& name);
  JsonWriter& value(const std::string& text);
  JsonWriter& value(const char* text) { return value(std::string(text)); }
  JsonWriter& value(double number);
  JsonWriter& value(int64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  // A value that is already JSON text (e.g. a file another program wrote).
  JsonWriter& raw(const std::string& json);
  template <typename T>
  JsonWriter& field(const std::string& name, const T& v) {
    key(name);
    return value(v);
  }
  const std::string& str() const { return out_; }

 private:
  void before_value();
  void newline();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};
std::string json_escape(const std::string& text);
// Writes text to `path`, through a temporary file renamed into place (a failed write leaves what was
// there); errors name the path.
void write_text_file(const std::string& path, const std::string& text);

// The folder of kiln's source tree (the one holding benchmarks/torch/bench_models.py): $KILN_SOURCE_DIR,
// else the first folder above the kiln executable or the working directory that holds it; "" if none.
std::string find_source_tree();

// A Python interpreter that can import torch: $KILN_PYTHON, then python3 on the PATH, then
// /usr/bin/python3. nullopt when none can; `tried` lists what was tried.
std::optional<std::string> find_torch_python(std::string& tried);
// Runs a command through the shell, returning its exit status and standard output (stderr passes
// through to ours); each line is also echoed to stdout when `echo` is set.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command, bool echo);
// Quotes a word for the shell.
std::string shell_quote(const std::string& word);

}  // namespace kiln::apps::bench
