// The kernel lab's engine (lab_run.h): check, then time, then pick the winner; the table and the JSON.
#include "apps/bench/lab_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <sstream>

namespace kiln::apps::bench {
namespace {

// Repetitions and time budget per version: the median of many runs on a GPU, fewer of the slower CPU loops.
struct Repetitions {
  int warmup, min_reps, max_reps;
  double budget_s;
};
Repetitions repetitions(const LabOptions& o) {
  if (o.quick) return {1, 2, 3, 0.2};
  return o.device.is_cuda() ? Repetitions{2, 5, 30, 2.0} : Repetitions{1, 3, 15, 1.5};
}

const LabDims& timed_shape(const LabFamilyBase& f, const LabOptions& o) {
  if (o.quick) return f.quick_shape;
  return o.device.is_cuda() ? f.cuda_shape : f.cpu_shape;
}

double rate_of(const LabFamilyBase& f, double work, double ms) {
  const double scale = f.unit == CostUnit::Bytes ? 1e9 : 1e12;
  return work / scale / (ms / 1e3);
}

const char* unit_name(CostUnit u) { return u == CostUnit::Bytes ? "GB/s" : "TFLOP/s"; }

// Checks version `v` at every check shape; fills passed, max_error and failure.
void check_version(const LabFamilyBase& f, size_t v, const LabOptions& o, LabTimer& timer, LabVersionResult& r) {
  r.passed = true;
  for (const LabDims& dims : f.check_shapes) {
    double err = 0;
    try {
      auto problem = f.prepare(dims, o.device);  // fresh outputs: a version that writes nothing cannot pass
      problem->run(v);
      timer.synchronize();
      err = problem->error();
    } catch (const std::exception& e) {
      r.passed = false;
      r.failure = "at " + dims_text(dims) + ": " + e.what();
      return;
    }
    if (!(err <= r.max_error)) r.max_error = err;  // NaN-proof: a NaN error is kept
    if (!(err <= f.tolerance)) {
      r.passed = false;
      std::ostringstream s;
      s << "at " << dims_text(dims) << ": max error " << err << " > tolerance " << f.tolerance;
      r.failure = s.str();
      return;
    }
  }
}

}  // namespace

std::string dims_text(const LabDims& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

bool LabReport::all_passed() const {
  for (const auto& f : families)
    for (const auto& v : f.versions)
      if (!v.passed) return false;
  return true;
}

LabReport run_kernel_lab(const std::vector<std::shared_ptr<LabFamilyBase>>& families,
                         const std::shared_ptr<LabFamilyBase>& gemm_family, const LabOptions& options,
                         LabTimer& timer, std::FILE* progress) {
  LabReport report;
  report.options = options;
  report.machine = timer.machine_info();
  report.flush_bytes = timer.flush_bytes();
  report.copy_bytes = options.device.is_cuda() ? (options.quick ? static_cast<size_t>(64) << 20 : static_cast<size_t>(256) << 20)
                                               : (options.quick ? static_cast<size_t>(16) << 20 : static_cast<size_t>(64) << 20);
  report.copy_gbs = timer.copy_bandwidth_gbs(report.copy_bytes, options.quick ? 3 : 10);
  if (progress) std::fprintf(progress, "copy bandwidth: %.1f GB/s\n", report.copy_gbs);
  const Repetitions reps = repetitions(options);

  // The library SGEMM rate, measured once where a Library family has no library version of its own.
  double gemm_library_rate = -2;  // −2: not measured yet; −1: none
  std::string gemm_library_name;
  auto library_gemm_rate = [&]() {
    if (gemm_library_rate > -2) return gemm_library_rate;
    gemm_library_rate = -1;
    if (!gemm_family) return gemm_library_rate;
    // The gemm family already timed in this run: its library version's figure, not a second measurement.
    for (const auto& done : report.families)
      if (done.family == gemm_family)
        for (const auto& r : done.versions)
          if (r.info.library && r.timed) {
            gemm_library_rate = r.rate;
            gemm_library_name = r.info.name + " sgemm " + dims_text(done.timed_shape);
            return gemm_library_rate;
          }
    const auto infos = gemm_family->versions(options.device.type);
    for (size_t v = 0; v < infos.size(); ++v) {
      if (!infos[v].library) continue;
      const LabDims& dims = timed_shape(*gemm_family, options);
      try {
        auto problem = gemm_family->prepare(dims, options.device);
        const auto ms = timer.time_runs([&] { problem->run(v); }, reps.warmup, reps.min_reps, reps.max_reps,
                                        reps.budget_s);
        gemm_library_rate = rate_of(*gemm_family, gemm_family->work(dims), median(ms));
        gemm_library_name = infos[v].name + " sgemm " + dims_text(dims);
      } catch (const std::exception&) {
        gemm_library_rate = -1;
      }
      break;
    }
    return gemm_library_rate;
  };

  for (const auto& family : families) {
    LabFamilyResult fr;
    fr.family = family;
    fr.timed_shape = timed_shape(*family, options);
    fr.work = family->work(fr.timed_shape);
    const auto infos = family->versions(options.device.type);
    for (const auto& info : infos) {
      LabVersionResult r;
      r.info = info;
      fr.versions.push_back(std::move(r));
    }
    for (size_t v = 0; v < infos.size(); ++v) check_version(*family, v, options, timer, fr.versions[v]);

    // Time the versions that passed, on one problem at the timed shape.
    bool any_passed = false;
    for (const auto& r : fr.versions) any_passed = any_passed || r.passed;
    if (any_passed) {
      std::unique_ptr<LabFamilyBase::Problem> problem;
      try {
        problem = family->prepare(fr.timed_shape, options.device);
      } catch (const std::exception& e) {
        for (auto& r : fr.versions) {
          if (!r.failure.empty()) r.failure += "; ";
          r.failure += "not timed: ";
          r.failure += e.what();
        }
      }
      for (size_t v = 0; problem && v < infos.size(); ++v) {
        LabVersionResult& r = fr.versions[v];
        if (!r.passed) continue;
        try {
          r.times_ms = timer.time_runs([&] { problem->run(v); }, reps.warmup, reps.min_reps, reps.max_reps,
                                       reps.budget_s);
          r.timed = true;
          r.median_ms = median(r.times_ms);
          r.rate = rate_of(*family, fr.work, r.median_ms);
        } catch (const std::exception& e) {
          r.failure = std::string("timing failed: ") + e.what();
        }
      }
    }

    // The reference figure and the winner.
    if (family->reference == ReferenceKind::CopyBandwidth) {
      fr.reference_name = "copy bandwidth";
      fr.reference_rate = report.copy_gbs;
    } else {
      for (const auto& r : fr.versions)
        if (r.info.library && r.timed && r.rate > fr.reference_rate) {
          fr.reference_rate = r.rate;
          fr.reference_name = r.info.name;
        }
      if (fr.reference_rate < 0 && library_gemm_rate() > 0) {
        fr.reference_rate = gemm_library_rate;
        fr.reference_name = gemm_library_name;
      }
    }
    for (size_t v = 0; v < fr.versions.size(); ++v) {
      LabVersionResult& r = fr.versions[v];
      if (!r.timed) continue;
      if (fr.reference_rate > 0) r.percent_of_reference = 100.0 * r.rate / fr.reference_rate;
      if (fr.winner < 0 || r.median_ms < fr.versions[size_t(fr.winner)].median_ms) fr.winner = int(v);
    }
    if (progress)
      std::fprintf(progress, "%s: %zu versions checked%s\n", family->name.c_str(), fr.versions.size(),
                   fr.winner >= 0 ? (", winner " + fr.versions[size_t(fr.winner)].info.name).c_str() : "");
    report.families.push_back(std::move(fr));
  }
  return report;
}

void print_lab_table(const LabReport& report, std::FILE* out) {
  const bool cuda = report.options.device.is_cuda();
  std::fprintf(out, "kernel lab on %s%s: median of repeated runs (%s), %s flushed before each (%zu MiB written)\n",
               report.options.device.str().c_str(), report.options.quick ? " (--quick)" : "",
               cuda ? "CUDA events" : "wall clock", cuda ? "L2" : "last-level cache", report.flush_bytes >> 20);
  std::fprintf(out, "device copy bandwidth: %.1f GB/s (a plain copy of %zu MiB, bytes read + written)\n\n",
               report.copy_gbs, report.copy_bytes >> 20);
  std::fprintf(out, "%-14s %-9s %-18s %11s %12s %8s  %-10s %s\n", "family", "version", "shape", "time", "rate",
               "% ref", "check", "notes");
  for (const auto& fr : report.families) {
    for (size_t v = 0; v < fr.versions.size(); ++v) {
      const auto& r = fr.versions[v];
      char time[32] = "-", rate[32] = "-", pct[32] = "-", check[32];
      if (r.timed) {
        if (r.median_ms < 1)
          std::snprintf(time, sizeof time, "%.1f us", r.median_ms * 1e3);
        else
          std::snprintf(time, sizeof time, "%.2f ms", r.median_ms);
        std::snprintf(rate, sizeof rate, "%.3g %s", r.rate, unit_name(fr.family->unit));
        if (r.percent_of_reference >= 0) std::snprintf(pct, sizeof pct, "%.0f%%", r.percent_of_reference);
      }
      std::snprintf(check, sizeof check, "%s %.0e", r.passed ? "ok" : "FAILED", r.max_error);
      std::string notes;
      if (int(v) == fr.winner) notes += "winner ";
      if (r.info.dispatched) notes += "(framework calls it) ";
      if (r.info.library) notes += "[library] ";
      if (!r.passed) notes += r.failure;
      std::fprintf(out, "%-14s %-9s %-18s %11s %12s %8s  %-10s %s\n", fr.family->name.c_str(), r.info.name.c_str(),
                   dims_text(fr.timed_shape).c_str(), time, rate, pct, check, notes.c_str());
    }
    if (fr.versions.empty())
      std::fprintf(out, "%-14s %-9s (no version on this device)\n", fr.family->name.c_str(), "-");
    const char* unit = unit_name(fr.family->unit);
    if (fr.reference_rate > 0)
      std::fprintf(out, "%-14s reference: %s = %.3g %s\n", "", fr.reference_name.c_str(), fr.reference_rate, unit);
    if (fr.winner >= 0 && !fr.versions[size_t(fr.winner)].info.dispatched)
      for (const auto& r : fr.versions)
        if (r.info.dispatched)
          std::fprintf(out, "%-14s note: the framework calls %s, but %s is faster here\n", "", r.info.name.c_str(),
                       fr.versions[size_t(fr.winner)].info.name.c_str());
  }
  std::fprintf(out, "\nversions:\n");
  for (const auto& fr : report.families)
    for (const auto& r : fr.versions)
      std::fprintf(out, "  %s %s: %s\n", fr.family->name.c_str(), r.info.name.c_str(), r.info.comment.c_str());
  std::fprintf(out, "\nmissing on %s:\n", cuda ? "cuda" : "cpu");
  for (const auto& fr : report.families)
    for (const auto& m : cuda ? fr.family->missing_cuda : fr.family->missing_cpu)
      std::fprintf(out, "  %s: %s\n", fr.family->name.c_str(), m.c_str());
  std::fprintf(out, "\ncost models (tolerance: max |got - ref| / max(1, |ref|), float32):\n");
  for (const auto& fr : report.families)
    std::fprintf(out, "  %s: %s; %s (tolerance %.0e)\n", fr.family->name.c_str(), fr.family->measures.c_str(),
                 fr.family->cost_model.c_str(), fr.family->tolerance);
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

// A number, or null where it is not finite (JSON has no NaN or infinity).
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string json_dims(const LabDims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(d[i]);
  }
  return s + "]";
}

std::string json_strings(const std::vector<std::string>& list) {
  std::string s = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) s += ", ";
    s += json_string(list[i]);
  }
  return s + "]";
}

}  // namespace

std::string lab_report_json(const LabReport& report) {
  const bool cuda = report.options.device.is_cuda();
  std::ostringstream j;
  j << "{\n  \"instrument\": \"kiln bench ops\",\n";
  j << "  \"device\": " << json_string(report.options.device.str()) << ",\n";
  j << "  \"quick\": " << (report.options.quick ? "true" : "false") << ",\n";
  j << "  \"machine\": {";
  for (size_t i = 0; i < report.machine.size(); ++i)
    j << (i ? ", " : "") << json_string(report.machine[i].first) << ": " << json_string(report.machine[i].second);
  j << "},\n";
  j << "  \"copy_bandwidth_gbs\": " << json_number(report.copy_gbs) << ",\n";
  j << "  \"copy_bytes\": " << report.copy_bytes << ",\n";
  j << "  \"cache_flush_bytes\": " << report.flush_bytes << ",\n";
  j << "  \"all_passed\": " << (report.all_passed() ? "true" : "false") << ",\n";
  j << "  \"families\": [";
  for (size_t fi = 0; fi < report.families.size(); ++fi) {
    const auto& fr = report.families[fi];
    const auto& f = *fr.family;
    j << (fi ? "," : "") << "\n    {\"name\": " << json_string(f.name) << ", \"measures\": " << json_string(f.measures)
      << ", \"cost_model\": " << json_string(f.cost_model) << ", \"unit\": " << json_string(unit_name(f.unit))
      << ", \"tolerance\": " << json_number(f.tolerance) << ",\n     \"check_shapes\": [";
    for (size_t i = 0; i < f.check_shapes.size(); ++i) j << (i ? ", " : "") << json_dims(f.check_shapes[i]);
    j << "], \"timed_shape\": " << json_dims(fr.timed_shape) << ", \"work_per_call\": " << json_number(fr.work)
      << ",\n     \"reference\": {\"kind\": "
      << json_string(f.reference == ReferenceKind::CopyBandwidth ? "copy bandwidth" : "library")
      << ", \"name\": " << json_string(fr.reference_name)
      << ", \"rate\": " << (fr.reference_rate > 0 ? json_number(fr.reference_rate) : "null") << "},\n";
    j << "     \"winner\": " << (fr.winner >= 0 ? json_string(fr.versions[size_t(fr.winner)].info.name) : "null")
      << ", \"missing\": " << json_strings(cuda ? f.missing_cuda : f.missing_cpu) << ",\n     \"versions\": [";
    for (size_t v = 0; v < fr.versions.size(); ++v) {
      const auto& r = fr.versions[v];
      j << (v ? "," : "") << "\n       {\"name\": " << json_string(r.info.name)
        << ", \"comment\": " << json_string(r.info.comment) << ", \"library\": " << (r.info.library ? "true" : "false")
        << ", \"framework_calls\": " << (r.info.dispatched ? "true" : "false")
        << ", \"passed\": " << (r.passed ? "true" : "false") << ", \"max_error\": " << json_number(r.max_error)
        << ", \"failure\": " << json_string(r.failure) << ", \"timed\": " << (r.timed ? "true" : "false")
        << ", \"winner\": " << (int(v) == fr.winner ? "true" : "false");
      if (r.timed) {
        j << ", \"median_ms\": " << json_number(r.median_ms) << ", \"rate\": " << json_number(r.rate)
          << ", \"percent_of_reference\": "
          << (r.percent_of_reference >= 0 ? json_number(r.percent_of_reference) : "null") << ", \"times_ms\": [";
        for (size_t i = 0; i < r.times_ms.size(); ++i) j << (i ? ", " : "") << json_number(r.times_ms[i]);
        j << "]";
      }
      j << "}";
    }
    j << "]}";
  }
  j << "\n  ]\n}\n";
  return j.str();
}

double relative_error(const std::vector<double>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(ref[i]) && std::isnan(got[i])) continue;
    if (std::isinf(ref[i]) && got[i] == ref[i]) continue;
    const double e = std::abs(got[i] - ref[i]) / std::max(1.0, std::abs(ref[i]));
    if (!(e <= worst)) worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
  }
  return worst;
}

}  // namespace kiln::apps::bench
