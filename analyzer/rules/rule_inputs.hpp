// What a rule's evaluator sees (rules.hpp): the recording, its evidence and tallies, the scores,
// and the subject it judges (one mapping row, one thread, or the program), and what it returns:
// a Candidate recommendation, ranked later by rank_recommendations.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/rules/access_evidence.hpp"
#include "analyzer/rules/fusion.hpp"
#include "analyzer/rules/report.hpp"

namespace numa_agent::analyzer {

enum class RecommendationKind { Colocate, Interleave, Replicate, PinThreads, UseAgent, FirstTouch };

// The report's components (metric table in rules.hpp) and the numbers behind them.
struct ComponentScores {
  std::optional<double> locality, stability, balance, score;   // locality, score: null when unknown
  std::optional<ShareInterval> remote_share;                    // the fused estimate, also when unknown
  std::optional<ShareInterval> score_interval;                  // score at the interval's ends
  std::optional<double> balance_cv;
  std::string balance_basis;            // traffic | pages | "" (no balance)
  std::string score_note;               // why score is null
  double cross_node_migrations = 0, thread_seconds = 0, migrations_per_thread_second = 0;
  std::size_t nodes_with_threads = 0;
};

// One row of the report's mapping table: a mapping with access evidence, or one of the largest.
struct MappingRow {
  std::uint64_t start = 0;
  const MappingRecord* record = nullptr;   // null: the address is in no recorded mapping
  double pages = 0;
  Tally tally;
  NodeShares from_node, to_node;           // accesses by the CPU's node / by the memory's node
  bool has_traffic = false;                // any access evidence names its memory node
  std::optional<double> traffic_cv;        // CV of to_node over every node
  NodeShares first_touch_from;             // pages by the node of the first-touching CPU
  std::map<std::string, double> first_touch_sites;
  // Who uses it: the node issuing the largest share of its accesses, and how many nodes issue
  // at least kUserShare of them.
  int main_user = -1;
  double main_share = 0;
  int users = 0;
  const MappingEstimate* estimate = nullptr;   // its share in the fused estimate (fusion.hpp)
};

struct RuleContext {
  const Recording& recording;
  const ReportOptions& options;
  const AccessEvidence& evidence;
  const AccessTallies& tallies;
  const ComponentScores& scores;
  const FusedEstimate& fused;
  std::string program;                     // the recorded command, quoted for a shell
};

// The subject of one evaluation: a mapping row, a thread, or neither (the program).
struct RuleSubject {
  const MappingRow* mapping = nullptr;
  const ThreadRecord* thread = nullptr;
};

struct Candidate {
  RecommendationKind kind;
  std::string title, evidence, command;
  double cost = 0, cost_low = 0, cost_high = 0;   // estimated gain and its interval (fused cost units)
  bool rank_last = false;   // use-agent: its gain is an upper bound, specific fixes go first
  // What it applies to (model/report.hpp Recommendation).
  std::optional<std::string> mapping, site;
  std::optional<std::vector<int>> tids;
};

}  // namespace numa_agent::analyzer
