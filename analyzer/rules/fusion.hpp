// The program's remote share from every source at once, with its interval and coverage
// (fuse_evidence). Memory is weighted by its resident bytes (every resident byte assumed equally
// hot: the only weight every source shares); each mapping's share comes from the evidence that
// sees it, and memory no evidence saw contributes placement x residency with the bounds that
// estimate allows. REPORT_SCHEMA.md "Fusion" describes the method.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "analyzer/model/recording.hpp"
#include "analyzer/rules/access_evidence.hpp"

namespace numa_agent::analyzer {

inline constexpr const char* kFusionMethod =
    "per mapping, the source that sees it (PMU samples and watchpoint hits, else hint faults where NUMA balancing "
    "scans); mappings weighted by resident bytes; 95 % Wilson score interval on the Kish effective sample count of "
    "the sampled mappings; memory no access evidence saw adds placement x residency with its bounds; file pages "
    "nobody sampled are not counted";
inline constexpr const char* kFusedCostUnit =
    "share of counted resident bytes x remote share x (remote / local latency - 1)";

// A share 0..1 and its interval.
struct ShareInterval {
  double value = 0, low = 0, high = 0;
};

// Wilson score interval (95 %) of `remote` successes in `n` trials; n may be an effective
// (fractional) count. n <= 0 gives [0, 1] around 0.5.
ShareInterval wilson_interval(double remote, double n);

// How a mapping's share was decided.
enum class MappingBasis {
  Sampled,        // access evidence naming the mapping (PMU, watchpoint, hint faults)
  ProgramWide,    // program-wide evidence (node counters, task NUMA faults) that can see it
  Placement,      // no evidence: placement x residency, with bounds
  NotCounted,     // file pages nobody sampled (libraries, page cache): not the program's placement
};
std::string_view basis_name(MappingBasis basis);

struct MappingEstimate {
  std::uint64_t start = 0;
  const MappingRecord* record = nullptr;
  double bytes = 0;              // resident bytes
  double weight = 0;             // share of the program's counted memory (0..1)
  MappingBasis basis = MappingBasis::NotCounted;
  std::string source;            // evidence source(s) behind it
  double samples = 0;            // effective sample count (0 for placement)
  ShareInterval remote_share;
  double excess = 0;             // mean extra latency of its remote accesses, in local-access units
  // Estimated remote-access cost: weight x remote share x excess (and at the interval's ends).
  double cost = 0, cost_low = 0, cost_high = 0;
};

struct ThreadEstimate {
  std::string source;            // evidence source, or "placement-estimate"
  double samples = 0;
  ShareInterval remote_share;
};

struct FusedEstimate {
  std::optional<ShareInterval> remote_share;   // null: no memory to judge (one node, nothing resident)
  bool known = false;              // coverage >= kMinCoverage: the share is a measurement
  double coverage = 0;             // share of the counted resident bytes decided by access evidence
  double counted_bytes = 0, covered_bytes = 0, not_counted_bytes = 0;
  double effective_samples = 0;    // Kish effective count of the sampled strata
  std::string confidence;          // high | medium | low, "" when there is no estimate
  std::string weighting;           // resident-bytes | samples (no mapping had resident bytes)
  std::string main_source;         // the source that decided the most weight ("" when none did)
  double cost = 0, cost_low = 0, cost_high = 0;
  std::map<std::uint64_t, MappingEstimate> mappings;
  std::map<int, ThreadEstimate> threads;
};

FusedEstimate fuse_evidence(const Recording& recording, const AccessEvidence& evidence, const AccessTallies& tallies);

// A file-backed mapping (a path, not [heap], [stack] or anonymous).
bool file_backed(const MappingRecord& mapping);

}  // namespace numa_agent::analyzer
