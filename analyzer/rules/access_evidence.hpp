// The first steps of build_report: the best access evidence of a recording, flattened into rows
// whatever its source (choose_evidence), and those rows tallied per program, thread and mapping
// (aggregate_accesses). Everything later (scores, rules, the report's tables) reads these.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// One row of access evidence, whatever its source, already classified.
struct AccessView {
  int tid = 0;
  int cpu_node = -1, memory_node = -1;
  std::uint64_t mapping = 0;
  double local = 0, remote = 0;   // sampled accesses
  double loads = 0, total = 0;
  double cost = 0;                // remote excess latency, in the unit of `cost_unit`
};

struct AccessEvidence {
  std::string source;       // evidence source name (matches EvidenceProbe::source); empty: none
  std::string confidence;   // high | medium | low
  std::string cost_unit;
  std::vector<AccessView> rows;
  bool per_access = false;  // rows carry per-mapping detail
};

// Picks the best evidence present: PMU samples, PMU counters, NUMA-balancing hint faults (sampled
// addresses, then per-task sched counters), placement.
AccessEvidence choose_evidence(const Recording& recording);

struct Tally {
  double local = 0, remote = 0, loads = 0, total = 0, cost = 0;
  void add(const AccessView& a);
  double accesses() const { return local + remote; }
  std::optional<double> locality() const;
};

using NodeShares = std::map<int, double>;   // node index -> accesses (or pages)

struct AccessTallies {
  Tally program;
  std::map<int, Tally> by_thread;
  std::map<std::uint64_t, Tally> by_mapping;                  // per-access evidence only
  std::map<std::uint64_t, NodeShares> mapping_from_node;      // by the accessing CPU's node
  std::map<std::uint64_t, NodeShares> mapping_to_node;        // by the memory's node
  NodeShares traffic_to_node;
};
AccessTallies aggregate_accesses(const AccessEvidence& evidence);

// Thread facts every step uses.
int home_node(const ThreadRecord& thread);                              // most polled node, or -1
double lifetime_s(const ThreadRecord& thread, double recording_duration_s);

}  // namespace numa_agent::analyzer
