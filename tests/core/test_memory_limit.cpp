// core/memory_limit.h: the parsers on text as the kernel writes it, and a real rlimit read back.
#include <sys/resource.h>

#include "core/allocator.h"
#include "core/memory_limit.h"
#include "kiln_test.h"

using namespace kiln;

TEST_CASE("memory limit: /proc/self/cgroup of cgroup v2, v1 and a hybrid", "[memory]") {
  CgroupPaths v2 = parse_proc_self_cgroup("0::/user.slice/job-7.scope\n");
  CHECK(v2.unified == "/user.slice/job-7.scope");
  CHECK(v2.memory_v1.empty());
  CgroupPaths hybrid = parse_proc_self_cgroup("9:name=systemd:/\n4:memory:/process_api/0f3c\n1:cpu:/\n0::/\n");
  CHECK(hybrid.memory_v1 == "/process_api/0f3c");
  CHECK(hybrid.unified == "/");
  CHECK(parse_proc_self_cgroup("3:cpu,memory,cpuacct:/a:b\n").memory_v1 == "/a:b");  // a ':' in the path
  CgroupPaths none = parse_proc_self_cgroup("garbage\n");
  CHECK(none.unified.empty());
  CHECK(none.memory_v1.empty());
}

TEST_CASE("memory limit: memory.max and memory.limit_in_bytes values", "[memory]") {
  CHECK(parse_cgroup_limit("3221225472\n") == uint64_t(3) << 30);
  CHECK_FALSE(parse_cgroup_limit("max\n"));
  CHECK_FALSE(parse_cgroup_limit("9223372036854771712\n"));  // v1's "no limit"
  CHECK_FALSE(parse_cgroup_limit(""));
  CHECK_FALSE(parse_cgroup_limit("12abc"));
}

TEST_CASE("memory limit: MemAvailable and the process's numbers", "[memory]") {
  CHECK(parse_meminfo_available("MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   23103836 kB\n") ==
        uint64_t(23103836) * 1024);
  CHECK_FALSE(parse_meminfo_available("MemTotal: 100 kB\n"));
  const ProcessMemory p = parse_proc_status("Name:\tkiln\nVmPeak:\t 9 kB\nVmSize:\t  300 kB\nVmHWM:\t 50 kB\n"
                                            "VmRSS:\t  40 kB\nVmData:\t 200 kB\n");
  CHECK(p.address_space == 300 * 1024);
  CHECK(p.resident == 40 * 1024);
  CHECK(p.data == 200 * 1024);
  CHECK(p.peak_resident == 50 * 1024);
}

TEST_CASE("memory limit: the tightest budget decides", "[memory]") {
  const MemoryBudget t = tightest({{8 << 30, 7u << 30, "cgroup"}, {4u << 30, 1 << 30, "RLIMIT_AS"}, {9u << 30, 5u << 30, "MemAvailable"}});
  CHECK(t.source == "RLIMIT_AS");
  CHECK(t.free == uint64_t(1) << 30);
  CHECK(tightest({}).free == UINT64_MAX);
  CHECK(format_bytes(uint64_t(3) << 30) == "3.00 GiB");
  CHECK(format_bytes(uint64_t(300) << 20) == "300 MiB");
}

TEST_CASE("memory limit: a real RLIMIT_AS is found, less the address space in use", "[memory]") {
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_AS, &saved) == 0);
  release_cached_memory(Device::cpu());  // as memory_budget() does first: cached pages are not in use
  const uint64_t in_use = process_memory().address_space;
  REQUIRE(in_use > 0);
  const uint64_t limit = in_use + (uint64_t(256) << 20);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < limit) return;  // cannot set it here
  rlimit capped = saved;
  capped.rlim_cur = limit;
  REQUIRE(setrlimit(RLIMIT_AS, &capped) == 0);
  const MemoryBudget budget = memory_budget();
  REQUIRE(setrlimit(RLIMIT_AS, &saved) == 0);
  CHECK(budget.source == "RLIMIT_AS (ulimit -v)");
  CHECK(budget.limit == limit);
  CHECK(budget.free <= uint64_t(256) << 20);
  CHECK(budget.free > uint64_t(200) << 20);
}
