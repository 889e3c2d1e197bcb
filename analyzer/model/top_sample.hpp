// What `numa-analyze top` samples beyond a Recording: each live thread's current CPU and node and
// its node migrations since the previous refresh, and the system-wide hint faults of the last
// interval. evidence/top_sampler fills it; views/top_frame renders it beside the report model.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace numa_agent::analyzer {

struct TopThread {
  int tid = 0;
  std::string name;
  int cpu = -1;                               // CPU it last ran on
  int node = -1;                              // node index of that CPU
  std::uint64_t node_migrations_interval = 0; // node changes seen since the previous refresh
};

struct TopSample {
  int pid = 0;
  std::string command;
  double elapsed_s = 0, interval_s = 0;
  std::vector<TopThread> threads;             // live threads, in /proc order
  // /proc/vmstat over the last interval, system-wide: hint faults and the local share of them.
  std::uint64_t hint_faults_interval = 0;
  std::optional<double> hint_fault_locality_interval;
  std::vector<std::string> notes;             // evidence top could not read, and why
};

}  // namespace numa_agent::analyzer
