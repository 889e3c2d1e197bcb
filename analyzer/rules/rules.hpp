// Every formula and threshold behind numa-analyze's scores and recommendations, as data, in one
// place (LIKWID-style metric and rule tables). The report cites the metric or rule id that
// produced each number and recommendation; REPORT_SCHEMA.md lists the same tables.
#pragma once
#include <array>
#include <optional>
#include <string_view>

#include "analyzer/rules/rule_inputs.hpp"

namespace numa_agent::analyzer {

struct MetricDefinition {
  std::string_view id;
  std::string_view formula;
  std::string_view source;
};

inline constexpr MetricDefinition kMetrics[] = {
    {"locality", "1 - fused remote share: per mapping the source that sees it, mappings weighted by resident bytes, "
                 "95 % Wilson interval on the Kish effective count; null when access evidence saw < 50 % of the memory",
     "VTune 'NUMA: % of Remote Accesses' = remote / (local + remote) DRAM accesses (locality is its complement)"},
    {"remote_share", "1 - locality", "VTune 'NUMA: % of Remote Accesses'"},
    {"stability", "1 / (1 + cross-node migrations per thread-second)", "numa-analyze"},
    {"balance", "1 - CV(per-node traffic, else resident pages) / sqrt(nodes - 1); only when threads run on >= 2 nodes",
     "Carrefour (Dashti et al., ASPLOS'13) uses the CV of per-node traffic"},
    {"score", "100 * weighted mean of available components (locality 0.6, stability 0.2, balance 0.2); null on one node",
     "numa-analyze"},
    {"cost", "sum over mappings of resident-byte share x remote share x (latency_remote / latency_local - 1); "
             "latency from sample weights when present, else SLIT distance / local distance",
     "numa-analyze; ACPI SLIT"},
};

std::string_view kind_name(RecommendationKind kind);

// What a rule judges, and so when evaluate_rules calls it: once per mapping row, once per thread,
// once for the program, or once for the program's threads as a group (one recommendation naming
// them all). Rules are called subject by subject (every rule on mapping row 1, then on row 2, ...),
// mappings before threads before the program before the thread group: that is the order
// candidates enter the ranking.
enum RuleSubjects : unsigned { kMappings = 1, kThreads = 2, kProgram = 4, kThreadGroup = 8 };

struct RuleDefinition;
// A rule's condition as code: the candidate recommendation when the condition holds for the subject.
using RuleEvaluator = std::optional<Candidate> (*)(const RuleDefinition& rule, const RuleContext& context,
                                                   const RuleSubject& subject);

struct RuleDefinition {
  std::string_view id;
  RecommendationKind kind;
  unsigned subjects;               // RuleSubjects
  std::string_view condition;
  double threshold;
  std::string_view source;
  bool applies_when_well_placed;   // false: silent when program-wide locality >= kWellPlacedLocality
  int tie_rank;                    // among near-equal costs the lower goes first: the more specific fix
  RuleEvaluator evaluate;
};

// Thresholds start from published ones; the ones numa-analyze chose itself say so.
inline constexpr double kWellPlacedLocality = 0.90;
// The rules, each with its evaluator (rules.cpp). Every recommendation cites the rule that made it.
extern const std::array<RuleDefinition, 6> kRules;
// Shares the mapping rules use to say who uses a mapping (rule_inputs.hpp MappingRow).
inline constexpr double kMainUserShare = 0.80;   // "mostly from one node"
inline constexpr double kUserShare = 0.10;       // a node issuing >= 10 % of the accesses uses it
// R4 ignores, where there is access evidence, threads with less than this share of the sampled
// accesses: a main thread that only waits while workers run hops freely and costs nothing.
inline constexpr double kPinMinAccessShare = 0.01;
// Applies to every rule but R4: no recommendation when program-wide locality >= kWellPlacedLocality.
// R4 (threads hopping between nodes) stands on its own: a hopping thread's samples are the least
// reliable evidence of locality there is.
inline constexpr std::string_view kWellPlacedSource = "numa-analyze default: nothing to recommend when locality >= 90 %";

const RuleDefinition& rule(RecommendationKind kind);
const MetricDefinition& metric(std::string_view id);

// The fused estimate (fusion.hpp) and what makes a recommendation worth making, each with its reason.
// Below half of the counted resident memory seen by access evidence, the remote share is not a
// measurement: the report says "unknown" (and the placement estimate with its bounds) instead.
inline constexpr double kMinCoverage = 0.50;
inline constexpr std::string_view kMinCoverageSource =
    "numa-analyze default: a share measured on less than half of the memory says more about the sample than the program";
// Confidence: high when >= 90 % of the memory was seen and the 95 % interval is at most 10 points
// wide (the known-answer tolerance is +-5), medium at most 20 points wide (issue 14's low-confidence bound).
inline constexpr double kHighConfidenceCoverage = 0.90, kHighConfidenceWidth = 0.10, kMediumConfidenceWidth = 0.20;
// Low whenever the point may sit more than 5 points (the known-answer tolerance) below the truth:
// hint faults on pages NUMA balancing migrated were remote and are recorded local (fusion.cpp).
// Measured in a 2-node guest: the first-touch fix read 0.0 % [0.0-6.3 %] against a true 6.3 %.
inline constexpr double kMaxPointBias = 0.05;
// A recommendation must address a material share of the program's estimated remote-access cost,
// counting even its interval's best case: fixing less than a tenth moves the run time by less than
// the run-to-run noise of a NUMA measurement (numa-analyze default).
inline constexpr double kMaterialCostShare = 0.10;
inline constexpr std::string_view kMaterialCostSource =
    "numa-analyze default: a fix for < 10 % of the remote-access cost is within run-to-run noise";
// Mappings smaller than this never get a recommendation of their own (a 0.2 MiB [heap], ld.so's
// pages): moving them cannot matter next to the program's working set, whatever their share says.
inline constexpr double kMinRecommendBytes = 1024.0 * 1024.0;

// Weights of the overall score (metric "score").
inline constexpr double kWeightLocality = 0.6, kWeightStability = 0.2, kWeightBalance = 0.2;

}  // namespace numa_agent::analyzer
