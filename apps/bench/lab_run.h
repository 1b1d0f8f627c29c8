// The kernel lab's engine: checks every version of every family against the CPU reference at the family's
// check shapes, times the versions that passed at its timed shape, picks the winner, and prints the table
// and the JSON of `kiln bench ops` (docs/kernel-lab.md).
#pragma once
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/bench/lab_registry.h"
#include "apps/bench/lab_timer.h"

namespace kiln::apps::bench {

struct LabOptions {
  Device device = Device::cpu();
  bool quick = false;  // the small shapes and few repetitions of the CI test
};

struct LabVersionResult {
  LabFamilyBase::Info info;
  bool passed = false;
  double max_error = 0;      // the largest error over the check shapes
  std::string failure;       // why it failed: the shape and error, or the error message it threw
  bool timed = false;
  std::vector<double> times_ms;
  double median_ms = 0, rate = 0, percent_of_reference = -1;  // rate in GB/s or TFLOP/s; −1: no reference
};

struct LabFamilyResult {
  std::shared_ptr<LabFamilyBase> family;
  LabDims timed_shape;
  double work = 0;               // bytes or flops of one call at the timed shape
  std::string reference_name;    // "copy bandwidth", "cuBLAS", ...
  double reference_rate = -1;    // in the family's unit; −1 where there is none
  std::vector<LabVersionResult> versions;
  int winner = -1;               // index into versions of the fastest passing version; −1: none timed
};

struct LabReport {
  LabOptions options;
  double copy_gbs = 0;
  size_t copy_bytes = 0;
  size_t flush_bytes = 0;  // written before each timed run to evict the last-level cache (the L2 on a GPU)
  std::vector<std::pair<std::string, std::string>> machine;
  std::vector<LabFamilyResult> families;
  bool all_passed() const;
};

// Runs `families` (all of them, or the --op subset) on options.device. `gemm_family` (may be null) supplies
// the library SGEMM figure for Library families that have no library version of their own on the device.
// `progress` (may be null) gets a line per family as it finishes.
LabReport run_kernel_lab(const std::vector<std::shared_ptr<LabFamilyBase>>& families,
                         const std::shared_ptr<LabFamilyBase>& gemm_family, const LabOptions& options,
                         LabTimer& timer, std::FILE* progress);

// The table: one row per version (family, version, shape, median time, rate, % of reference, check, notes),
// then the version comments and what is missing.
void print_lab_table(const LabReport& report, std::FILE* out);
// Everything of the report as JSON (machine, references, every version's check and times).
std::string lab_report_json(const LabReport& report);

std::string dims_text(const LabDims& dims);  // "16384x4096"

}  // namespace kiln::apps::bench
