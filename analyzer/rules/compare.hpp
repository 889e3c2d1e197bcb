// `compare`: two report models side by side, as the comparison model (`numa-analyze-compare/1`):
// score and component deltas, per-node and per-thread changes, recommendations resolved / new /
// persisting, and the CI gates on it. Deltas are differences of the reports' own numbers; nothing
// is rescored. Rendered as text by views/render_compare.hpp.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

inline constexpr const char* kCompareSchema = "numa-analyze-compare/1";

// The comparison model. `before_name`/`after_name` label the inputs (file names).
nlohmann::json compare_reports(const nlohmann::json& before, const nlohmann::json& after,
                               const std::string& before_name, const std::string& after_name);

// Key under which a recommendation is the "same" in two runs (addresses and TIDs differ between
// runs): kind, plus the mapping's name and size, or the code site, or the title without numbers.
std::string recommendation_key(const nlohmann::json& recommendation, const nlohmann::json& report);

// CI gates on the AFTER report.
struct CompareGates {
  std::optional<double> fail_below;      // AFTER's score < X
  std::optional<double> fail_if_worse;   // BEFORE's score - AFTER's score > D
};
struct GateOutcome {
  int exit_code = 0;           // 0 pass, 1 a gate failed, 2 a gate could not be evaluated (null score)
  std::string message;         // why, one line; empty when passing
};
GateOutcome evaluate_gates(const nlohmann::json& comparison, const CompareGates& gates);

}  // namespace numa_agent::analyzer
