// How much memory this process may still use, from every limit that can stop it: the memory cgroup
// it runs in (v2 memory.max, v1 memory.limit_in_bytes, its ancestors included), its own rlimits
// (RLIMIT_AS, RLIMIT_DATA) and the machine's MemAvailable. The tightest one decides. The parsers take
// file contents, so the tests feed them text; memory_budget() reads the real files.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

// One limit and what is left under it.
struct MemoryBudget {
  uint64_t limit = UINT64_MAX;  // bytes the limit allows in all (UINT64_MAX: no limit)
  uint64_t free = UINT64_MAX;   // bytes this process may still allocate under it
  std::string source;           // e.g. "the cgroup limit memory.max of /sys/fs/cgroup/job" or "RLIMIT_AS (ulimit -v)"
};

// The numbers of /proc/self/status that the limits count (bytes).
struct ProcessMemory {
  uint64_t resident = 0;       // VmRSS: what a cgroup charges for this process
  uint64_t address_space = 0;  // VmSize: what RLIMIT_AS counts
  uint64_t data = 0;           // VmData: what RLIMIT_DATA counts
  uint64_t peak_resident = 0;  // VmHWM
};

// The cgroup paths of /proc/self/cgroup: the v2 one ("0::/path") and the v1 memory controller's
// ("N:memory:/path" or a list holding memory). Empty when absent.
struct CgroupPaths {
  std::string unified;
  std::string memory_v1;
};
CgroupPaths parse_proc_self_cgroup(const std::string& text);
// A memory.max or memory.limit_in_bytes value: nullopt for "max" and for v1's "no limit" (values at or
// above 2^60, e.g. 9223372036854771712), and for text that is no number.
std::optional<uint64_t> parse_cgroup_limit(const std::string& text);
// MemAvailable of /proc/meminfo in bytes (nullopt when absent: kernels before 3.14).
std::optional<uint64_t> parse_meminfo_available(const std::string& text);
ProcessMemory parse_proc_status(const std::string& text);
// The budget with the least free memory (a default MemoryBudget, unlimited, for an empty list).
MemoryBudget tightest(const std::vector<MemoryBudget>& budgets);

// What this process holds now (reads /proc/self/status; zeros where it cannot).
ProcessMemory process_memory();
// Every limit that applies now, with what is left under each: a cgroup's limit minus this process's
// resident memory, RLIMIT_AS minus its address space, RLIMIT_DATA minus its data segment, MemAvailable.
std::vector<MemoryBudget> memory_budgets();
MemoryBudget memory_budget();  // tightest(memory_budgets())

// "2.50 GiB" (or MiB below 1 GiB): sizes in messages.
std::string format_bytes(uint64_t bytes);

}  // namespace kiln
