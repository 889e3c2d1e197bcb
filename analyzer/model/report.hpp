// The report model: `numa-analyze-report/1` JSON built from a Recording. Every output (text now;
// top/compare/HTML later) renders this JSON and never recomputes. Scores and recommendations come
// from the tables in rules.hpp and cite them. Schema: analyzer/REPORT_SCHEMA.md.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

inline constexpr const char* kReportSchema = "numa-analyze-report/1";

struct ReportOptions {
  std::string agent_library = "libnumaagent.so";   // named in use-agent / pin-threads commands
};

nlohmann::json build_report(const Recording& recording, const ReportOptions& options = {});

// Formula helpers (metrics in rules.hpp), exposed for tests.
// Population coefficient of variation; nullopt when the mean is 0 or fewer than 2 values.
std::optional<double> coefficient_of_variation(const std::vector<double>& values);
// metric "balance": 1 - CV / sqrt(n - 1), clamped to [0, 1].
std::optional<double> balance_from_cv(double cv, int nodes);
// metric "stability".
double stability_from_rate(double node_migrations_per_thread_second);

}  // namespace numa_agent::analyzer
