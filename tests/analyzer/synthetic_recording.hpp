// Synthetic recordings for the analyzer's tests: a machine of N nodes (CPUs 2n and 2n+1 and 1 GiB
// on node n, SLIT 10 local / 21 remote, NUMA balancing on), with mappings and sampled accesses
// added by hand, so rules and views meet known inputs on any host.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/model/recording.hpp"

namespace numa_agent::test {

// A launched ./app --size 64M (or `command`), PID 100, that ran 10 s and exited.
inline analyzer::Recording synthetic_recording(int nodes, std::vector<std::string> command = {"./app", "--size", "64M"}) {
  analyzer::Recording r;
  r.tool_version = "test";
  r.mode = "launch";
  r.command = std::move(command);
  r.pid = 100;
  r.duration_s = 10;
  r.stop_reason = "exited";
  for (int n = 0; n < nodes; ++n) {
    r.machine.nodes.push_back({n, {2 * n, 2 * n + 1}, 1ULL << 30});
    std::vector<std::uint32_t> row(static_cast<std::size_t>(nodes), 21);
    row[static_cast<std::size_t>(n)] = 10;
    r.machine.distances.push_back(row);
  }
  r.machine.numa_balancing = 1;
  return r;
}

// A 64 MiB mapping at `start` with its resident pages by node index.
inline void add_mapping(analyzer::Recording& r, std::uint64_t start, std::map<int, std::uint64_t> pages,
                        std::string policy = "default") {
  analyzer::MappingRecord m;
  m.start = start;
  m.end = start + (64ULL << 20);
  m.policy = std::move(policy);
  m.pages_by_node = std::move(pages);
  r.mappings.push_back(m);
}

// `count` sampled accesses by `tid` from a CPU of `cpu_node` to memory on `memory_node`.
inline void add_access(analyzer::Recording& r, int tid, int cpu_node, int memory_node, std::uint64_t mapping,
                       std::uint64_t count, std::string source = "hint-fault", std::string mem_class = "fault",
                       std::uint64_t loads = 0) {
  analyzer::AccessBucket a;
  a.source = std::move(source);
  a.tid = tid;
  a.cpu_node = cpu_node;
  a.memory_node = memory_node;
  a.mapping = mapping;
  a.mem_class = std::move(mem_class);
  a.count = count;
  a.loads = loads;
  r.accesses.push_back(a);
}

}  // namespace numa_agent::test
