// The report model: `numa-analyze-report/1` JSON, built from a Recording by rules/report.hpp
// (build_report). Every view (text, HTML, Prometheus, compare, top) renders this document and never
// recomputes. Scores and recommendations cite the tables in rules/rules.hpp.
// Schema: analyzer/REPORT_SCHEMA.md.
#pragma once

namespace numa_agent::analyzer {

inline constexpr const char* kReportSchema = "numa-analyze-report/1";

}  // namespace numa_agent::analyzer
