// Recording in, report model (model/report.hpp, REPORT_SCHEMA.md) out: build_report, a chain of
// named steps (report.cpp). Scores and recommendations come from the tables in rules.hpp and cite
// them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"
#include "analyzer/model/report.hpp"
#include "analyzer/model/report_file.hpp"

namespace numa_agent::analyzer {

struct ReportOptions {
  std::string agent_library = "libnumaagent.so";   // named in use-agent / pin-threads commands
};

nlohmann::json build_report(const Recording& recording, const ReportOptions& options = {});

// The report model of an input: the report as written, or the recording scored by build_report.
nlohmann::json report_model(const ReportInput& input);
// The same from a file (read_report_input). Throws ReportInputError.
nlohmann::json load_report_model(const std::string& path);

// Formula helpers (metrics in rules.hpp), exposed for tests.
// Population coefficient of variation; nullopt when the mean is 0 or fewer than 2 values.
std::optional<double> coefficient_of_variation(const std::vector<double>& values);
// metric "balance": 1 - CV / sqrt(n - 1), clamped to [0, 1].
std::optional<double> balance_from_cv(double cv, int nodes);
// metric "stability".
double stability_from_rate(double node_migrations_per_thread_second);

}  // namespace numa_agent::analyzer
