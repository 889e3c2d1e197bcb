// Every formula and threshold behind numa-analyze's scores and recommendations, as data, in one
// place (LIKWID-style metric and rule tables). The report cites the metric or rule id that
// produced each number and recommendation; REPORT_SCHEMA.md lists the same tables.
#pragma once
#include <span>
#include <string_view>

namespace numa_agent::analyzer {

struct MetricDefinition {
  std::string_view id;
  std::string_view formula;
  std::string_view source;
};

inline constexpr MetricDefinition kMetrics[] = {
    {"locality", "local / (local + remote) sampled memory accesses, by the best evidence available",
     "VTune 'NUMA: % of Remote Accesses' = remote / (local + remote) DRAM accesses (locality is its complement)"},
    {"remote_share", "1 - locality", "VTune 'NUMA: % of Remote Accesses'"},
    {"stability", "1 / (1 + cross-node migrations per thread-second)", "numa-analyze"},
    {"balance", "1 - CV(per-node traffic, else resident pages) / sqrt(nodes - 1); only when threads run on >= 2 nodes",
     "Carrefour (Dashti et al., ASPLOS'13) uses the CV of per-node traffic"},
    {"score", "100 * weighted mean of available components (locality 0.6, stability 0.2, balance 0.2); null on one node",
     "numa-analyze"},
    {"cost", "sum over remote accesses of (latency_remote - latency_local); latency from sample weights when present, "
             "else SLIT distance / local distance (local = 1)",
     "issue 5; ACPI SLIT"},
};

enum class RecommendationKind { Colocate, Interleave, Replicate, PinThreads, UseAgent, FirstTouch };
std::string_view kind_name(RecommendationKind kind);

struct RuleDefinition {
  std::string_view id;
  RecommendationKind kind;
  std::string_view condition;
  double threshold;
  std::string_view source;
};

// Thresholds start from published ones; the ones numa-analyze chose itself say so.
inline constexpr double kWellPlacedLocality = 0.90;
inline constexpr RuleDefinition kRules[] = {
    {"R1-colocate", RecommendationKind::Colocate,
     "a mapping (or thread) with locality < threshold whose accesses come mostly (>= 80 %) from one node", 0.80,
     "Carrefour (ASPLOS'13): migrate pages when the local share is below 80 %"},
    {"R2-interleave", RecommendationKind::Interleave,
     "a mapping with locality < 0.80 accessed from >= 2 nodes whose per-node traffic CV > threshold", 0.35,
     "Carrefour (ASPLOS'13): interleave when per-node traffic CV > 0.35"},
    {"R3-replicate", RecommendationKind::Replicate,
     "as R2, and >= threshold of its sampled accesses are loads (needs PMU data sources)", 0.95,
     "Carrefour (ASPLOS'13): replicate when >= 95 % of accesses are reads"},
    {"R4-pin-threads", RecommendationKind::PinThreads,
     "a thread migrates across nodes more than threshold times per second (where the recording has "
     "access evidence, only threads carrying >= 1 % of the sampled accesses)", 0.5,
     "numa-analyze default (no published threshold)"},
    {"R5-use-agent", RecommendationKind::UseAgent,
     "program-wide locality < threshold and the program did not run under libnumaagent.so", 0.70,
     "Linux AutoNUMA aims at 70 % local accesses"},
    {"R6-first-touch", RecommendationKind::FirstTouch,
     "a mapping with locality < 0.80 whose pages were >= threshold first-touched from one node", 0.80,
     "Carrefour 80 % local threshold applied to first-touch placement"},
};
// R4 ignores, where there is access evidence, threads with less than this share of the sampled
// accesses: a main thread that only waits while workers run hops freely and costs nothing.
inline constexpr double kPinMinAccessShare = 0.01;
// Applies to every rule but R4: no recommendation when program-wide locality >= kWellPlacedLocality.
// R4 (threads hopping between nodes) stands on its own: a hopping thread's samples are the least
// reliable evidence of locality there is.
inline constexpr std::string_view kWellPlacedSource = "issue 5: nothing to recommend when locality >= 90 %";

const RuleDefinition& rule(RecommendationKind kind);
const MetricDefinition& metric(std::string_view id);

// Weights of the overall score (metric "score").
inline constexpr double kWeightLocality = 0.6, kWeightStability = 0.2, kWeightBalance = 0.2;

}  // namespace numa_agent::analyzer
