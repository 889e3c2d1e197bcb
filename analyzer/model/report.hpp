// The report model: `numa-analyze-report/1` JSON, built from a Recording by rules/report.hpp
// (build_report). Every view (text, HTML, Prometheus, compare, top) renders this document and never
// recomputes. Scores and recommendations cite the tables in rules/rules.hpp.
// Schema: analyzer/REPORT_SCHEMA.md.
//
// Typed so far: the recorded run (evidence.recording), the components with the per-node table, and
// the recommendations, each written and read here once (build_report writes them, the views read
// them). Still read by key (model/json_field.hpp): machine, evidence sources and notes,
// components.details, threads, mappings, sites.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

inline constexpr const char* kReportSchema = "numa-analyze-report/1";

// evidence.recording: what was run and how the recording ended.
struct RecordingSummary {
  std::string mode;                    // launch | attach
  std::vector<std::string> command;
  int pid = 0;
  double duration_s = 0;
  std::string stop_reason;
  std::optional<int> exit_code, exit_signal;
  bool agent = false;                  // ran under libnumaagent.so
  std::string tool_version;
  // The command as one line ("" when none was recorded).
  std::string program() const;
};

// components.nodes[]: what each node holds, serves and issues.
struct NodeSummary {
  int node = 0;                              // index into machine.nodes
  std::uint64_t resident_pages = 0, resident_bytes = 0;
  double accesses_served = 0, accesses_issued = 0;
  int threads = 0;                           // threads whose home node it is
};

// components.remote_share_interval, score_interval: the 95 % interval of a share or score.
struct Interval {
  double low = 0, high = 0;
};

// components.coverage: how much of the program's memory the access evidence saw.
struct Coverage {
  double share = 0;                    // covered / counted resident bytes (0..1)
  std::uint64_t counted_bytes = 0;     // resident bytes the estimate counts
  std::uint64_t covered_bytes = 0;     // of which access evidence decided
  std::uint64_t not_counted_bytes = 0; // file pages no sample touched (libraries, page cache)
  bool known = false;                  // share >= the minimum: the remote share is a measurement
};

// components: the parts of the score (0..1, null when not measurable) and why.
struct Components {
  std::optional<double> locality, remote_share, stability, balance;   // locality, remote_share: null when unknown
  std::optional<Interval> remote_share_interval;    // 95 % interval of the remote share (also when unknown)
  std::optional<double> remote_share_estimate;      // the estimate itself, also when unknown
  std::optional<Interval> score_interval;           // the score at the interval's ends
  std::optional<Coverage> coverage;
  std::optional<std::string> unknown_note;          // "unknown: no access evidence for N % of resident memory"
  std::optional<std::string> score_note;            // why the score is null
  std::optional<std::string> recommendation_note;   // why there is no recommendation (well placed)
  std::vector<NodeSummary> nodes;
  nlohmann::json details = nlohmann::json::object();   // formulas and inputs per component (by key)
};

// recommendations[].rule: the row of the rule table that produced the recommendation.
struct RuleCitation {
  std::string id, condition;
  double threshold = 0;
  std::string source;
};

struct EstimatedGain {
  double cost = 0;                     // in `unit`
  double cost_low = 0, cost_high = 0;  // its 95 % interval
  std::string unit;
  double share_of_remote_cost = 0;     // 0..1
  bool upper_bound = false;            // use-agent: the whole remote cost
};

struct Recommendation {
  int rank = 0;                        // 1 = do first
  std::string kind, title, evidence, command;
  EstimatedGain estimated_gain;
  RuleCitation rule;
  std::optional<std::string> mapping;  // start address of the mapping it applies to
  std::optional<std::string> site;     // code site (first-touch)
  std::optional<std::vector<int>> tids;   // threads (pin-threads)
};

// threads[].agent (with --agent): where the agent placed the thread; "role" only when a role rule
// placed it, so a report of a run without rules is what it was before roles existed.
nlohmann::json agent_placement_json(const AgentThreadRecord& placement);
// threads[].agent.role of one thread entry of a report, or none.
std::optional<std::string> thread_role(const nlohmann::json& thread);

// A share with its interval as every view writes it: "48.0 % [41.0–55.0 %]".
std::string share_interval_text(double value, double low, double high);

// A value or null, as the JSON writes it.
nlohmann::json nullable(const std::optional<double>& value);
nlohmann::json nullable(const std::optional<std::string>& value);

nlohmann::json recording_summary_json(const RecordingSummary& summary);
nlohmann::json components_json(const Components& components);
nlohmann::json recommendation_json(const Recommendation& recommendation);
// From a report document; a missing or mistyped field reads as its default.
RecordingSummary read_recording_summary(const nlohmann::json& report);
Components read_components(const nlohmann::json& report);
std::vector<Recommendation> read_recommendations(const nlohmann::json& report);

}  // namespace numa_agent::analyzer
