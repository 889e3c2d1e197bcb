// The first steps of build_report: every source of access evidence in a recording, flattened into
// rows whatever the source (gather_evidence), and those rows tallied per program, thread and mapping
// (aggregate_accesses). fusion.hpp turns them into the program's estimate with its interval;
// everything later (scores, rules, the report's tables) reads these.
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
  double local = 0, remote = 0;   // sampled accesses (effective counts: watchpoint hits scaled by exposure)
  double loads = 0, total = 0;
  double cost = 0;                // remote accesses x extra latency in local-access units
};

// What one source contributed: its samples, and how many of them decided memory (the rest were
// outweighed on the same mapping by a source that sees more, or saw nothing the estimate uses).
struct SourceContribution {
  std::string source;       // evidence source name (matches EvidenceProbe::source)
  double samples = 0;       // classified samples the recording holds
  double used = 0;          // of which entered the estimate
  std::string sees;         // what the source can see, one phrase
};

struct AccessEvidence {
  std::string source;       // the source behind most of the sampled accesses; empty: none
  std::string cost_unit;
  // Rows naming a mapping (PMU samples, watchpoint hits, hint faults): per mapping, the rows of the
  // source that sees it best (mapping_source).
  std::vector<AccessView> rows;
  std::map<std::uint64_t, std::string> mapping_source;
  // Rows without a mapping: PMU node counters (program-wide) and task NUMA faults (per thread).
  // They decide the memory no mapping row covers and that their source can see.
  std::vector<AccessView> program_rows;
  std::string program_source;
  std::vector<SourceContribution> sources;
  bool per_access = false;  // rows carry per-mapping detail
};

// Every source at once, each where it can see (fusion.hpp says how they are combined).
AccessEvidence gather_evidence(const Recording& recording);

// Whether NUMA balancing scans a mapping, by its numa_maps policy: the default policy and policies
// with MPOL_F_NUMA_BALANCING ("=balancing") are scanned; plain bind / prefer / interleave are not,
// so no hint fault there is no evidence about that memory (kernel task_numa_work: vma_policy_mof).
bool balancing_scans(const std::string& policy);

// Extra latency of a remote access by SLIT, in local-access units (local distance = 1); the mean
// remote distance when either node is unknown.
double slit_excess(const MachineInfo& machine, int cpu_node, int memory_node);

struct Tally {
  double local = 0, remote = 0, loads = 0, total = 0, cost = 0;
  void add(const AccessView& a);
  double accesses() const { return local + remote; }
  std::optional<double> locality() const;
};

using NodeShares = std::map<int, double>;   // node index -> accesses (or pages)

struct AccessTallies {
  Tally program;                                              // mapping rows, else program rows
  std::map<int, Tally> by_thread;                             // mapping rows, else program rows
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
