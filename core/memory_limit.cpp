#include "core/memory_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/allocator.h"

namespace kiln {
namespace {

constexpr uint64_t kNoLimitAbove = uint64_t(1) << 60;  // v1 writes "no limit" as PAGE_COUNTER_MAX pages

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value after "Key:" in a /proc file of "Key:   123 kB" lines, in bytes.
std::optional<uint64_t> kib_field(const std::string& text, const std::string& key) {
  size_t at = 0;
  while ((at = text.find(key + ":", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      unsigned long long kib = 0;
      if (std::sscanf(text.c_str() + at + key.size() + 1, " %llu", &kib) == 1) return uint64_t(kib) * 1024;
      return std::nullopt;
    }
    at += key.size();
  }
  return std::nullopt;
}

uint64_t left_under(uint64_t limit, uint64_t used) { return limit > used ? limit - used : 0; }

// The tightest limit of `file` in the cgroup folder `dir` and its ancestors up to `root` (a job's
// limit is often set on a parent of the cgroup the process sits in).
void add_cgroup_limits(const std::filesystem::path& root, const std::string& cgroup, const std::string& file,
                       uint64_t resident, std::vector<MemoryBudget>& budgets) {
  std::filesystem::path dir = root / std::filesystem::path(cgroup).relative_path();
  for (;;) {
    if (auto text = read_small_file((dir / file).string()))
      if (auto limit = parse_cgroup_limit(*text))
        budgets.push_back({*limit, left_under(*limit, resident), "the cgroup limit " + (dir / file).string()});
    if (dir == root || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
}

void add_rlimit(int resource, const char* name, uint64_t used, std::vector<MemoryBudget>& budgets) {
  rlimit r{};
  if (getrlimit(resource, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return;
  budgets.push_back({uint64_t(r.rlim_cur), left_under(uint64_t(r.rlim_cur), used), name});
}

}  // namespace

CgroupPaths parse_proc_self_cgroup(const std::string& text) {
  CgroupPaths paths;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // "hierarchy-id:controller-list:path"; the path may itself hold ':'
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) paths.unified = path;
    std::istringstream names(controllers);
    std::string name;
    while (std::getline(names, name, ','))
      if (name == "memory") paths.memory_v1 = path;
  }
  return paths;
}

std::optional<uint64_t> parse_cgroup_limit(const std::string& text) {
  unsigned long long value = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), " %llu %c", &value, &extra) != 1) return std::nullopt;  // "max", junk
  if (value >= kNoLimitAbove) return std::nullopt;
  return uint64_t(value);
}

std::optional<uint64_t> parse_meminfo_available(const std::string& text) { return kib_field(text, "MemAvailable"); }

ProcessMemory parse_proc_status(const std::string& text) {
  return {kib_field(text, "VmRSS").value_or(0), kib_field(text, "VmSize").value_or(0),
          kib_field(text, "VmData").value_or(0), kib_field(text, "VmHWM").value_or(0)};
}

MemoryBudget tightest(const std::vector<MemoryBudget>& budgets) {
  MemoryBudget best;
  for (const MemoryBudget& b : budgets)
    if (b.free < best.free) best = b;
  return best;
}

ProcessMemory process_memory() { return parse_proc_status(read_small_file("/proc/self/status").value_or("")); }

std::vector<MemoryBudget> memory_budgets() {
  std::vector<MemoryBudget> budgets;
  // Pages the CPU allocator keeps for reuse are this process's to use: given back first, they are not
  // counted as used (and a cap set from this budget then bounds tensors and cache together).
  release_cached_memory(Device::cpu());
  const ProcessMemory used = process_memory();
  const CgroupPaths cgroup = parse_proc_self_cgroup(read_small_file("/proc/self/cgroup").value_or(""));
  if (!cgroup.unified.empty()) {
    // cgroup v2 alone is mounted at /sys/fs/cgroup; on a hybrid system, at /sys/fs/cgroup/unified.
    add_cgroup_limits("/sys/fs/cgroup", cgroup.unified, "memory.max", used.resident, budgets);
    add_cgroup_limits("/sys/fs/cgroup/unified", cgroup.unified, "memory.max", used.resident, budgets);
  }
  if (!cgroup.memory_v1.empty())
    add_cgroup_limits("/sys/fs/cgroup/memory", cgroup.memory_v1, "memory.limit_in_bytes", used.resident, budgets);
  add_rlimit(RLIMIT_AS, "RLIMIT_AS (ulimit -v)", used.address_space, budgets);
  add_rlimit(RLIMIT_DATA, "RLIMIT_DATA (ulimit -d)", used.data, budgets);
  if (auto available = parse_meminfo_available(read_small_file("/proc/meminfo").value_or("")))
    budgets.push_back({*available + used.resident, *available, "MemAvailable in /proc/meminfo"});
  return budgets;
}

MemoryBudget memory_budget() { return tightest(memory_budgets()); }

std::string format_bytes(uint64_t bytes) {
  char text[32];
  const double gib = double(bytes) / double(uint64_t(1) << 30);
  if (gib >= 1.0)
    std::snprintf(text, sizeof text, "%.2f GiB", gib);
  else
    std::snprintf(text, sizeof text, "%.0f MiB", double(bytes) / double(1 << 20));
  return text;
}

}  // namespace kiln
