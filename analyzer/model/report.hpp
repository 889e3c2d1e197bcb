// The report model: `numa-analyze-report/1` JSON, built from a Recording by rules/report.hpp
// (build_report). Every view (text, HTML, Prometheus, compare, top) renders this document and never
// recomputes. Scores and recommendations cite the tables in rules/rules.hpp.
// Schema: analyzer/REPORT_SCHEMA.md.
//
// Typed so far: the recorded run (evidence.recording) and the recommendations, each written and
// read here once (build_report writes them, the views read them). The other sections are still
// read by key (model/json_field.hpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// recommendations[].rule: the row of the rule table that produced the recommendation.
struct RuleCitation {
  std::string id, condition;
  double threshold = 0;
  std::string source;
};

struct EstimatedGain {
  double cost = 0;                     // in `unit`
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

nlohmann::json recording_summary_json(const RecordingSummary& summary);
nlohmann::json recommendation_json(const Recommendation& recommendation);
// From a report document; a missing or mistyped field reads as its default.
RecordingSummary read_recording_summary(const nlohmann::json& report);
std::vector<Recommendation> read_recommendations(const nlohmann::json& report);

}  // namespace numa_agent::analyzer
