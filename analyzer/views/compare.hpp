// `compare`: two report models (report.hpp) side by side. Reads a report JSON or a recording (built
// into the report model with build_report), and produces the comparison model
// (`numa-analyze-compare/1`): score and component deltas, per-node and per-thread changes,
// recommendations resolved / new / persisting. Deltas are differences of the reports' own numbers;
// nothing is rescored.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

inline constexpr const char* kCompareSchema = "numa-analyze-compare/1";

// One-line message fit for "numa-analyze: <message>": missing, unreadable, corrupt or foreign input.
struct ReportInputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The report model from `path`: a `numa-analyze-report/1` JSON as written by `report --format
// json`, or a `numa-analyze-recording/1` file (scored here by build_report). Throws ReportInputError.
nlohmann::json load_report_model(const std::string& path);
// The same, from text already read (`origin` names it in messages).
nlohmann::json report_model_from_text(const std::string& text, const std::string& origin);

// The comparison model. `before_name`/`after_name` label the inputs (file names).
nlohmann::json compare_reports(const nlohmann::json& before, const nlohmann::json& after,
                               const std::string& before_name, const std::string& after_name);
std::string render_compare_text(const nlohmann::json& comparison);

// Key under which a recommendation is the "same" in two runs (addresses and TIDs differ between
// runs): kind, plus the mapping's name and size, or the code site, or the title without numbers.
std::string recommendation_key(const nlohmann::json& recommendation, const nlohmann::json& report);

// CI gates on the AFTER report. Each returns nullopt when the gate passes, else the one-line reason.
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
