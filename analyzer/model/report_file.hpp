// The inputs `report` and `compare` read: a recording (`numa-analyze-recording/1`, recording.hpp)
// or a report written by `report --format json` (`numa-analyze-report/1`, REPORT_SCHEMA.md).
// Missing, unreadable, empty, corrupt or foreign files are refused with a one-line message.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"
#include "analyzer/model/report.hpp"

namespace numa_agent::analyzer {

// One-line message fit for "numa-analyze: <message>": missing, unreadable, corrupt or foreign input.
struct ReportInputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Exactly one of the two: a recording still to be scored, or a report as written.
struct ReportInput {
  std::optional<Recording> recording;
  nlohmann::json report;   // validated: carries every key the views and compare read
};

// From text already read (`origin` names it in messages). Throws ReportInputError.
ReportInput parse_report_input(const std::string& text, const std::string& origin);
// From the file at `path`. Throws ReportInputError.
ReportInput read_report_input(const std::string& path);

}  // namespace numa_agent::analyzer
