// `report --format prometheus`: the report model (report.hpp) in the Prometheus text exposition
// format, for node_exporter's textfile collector. Names follow Prometheus conventions: prefix
// `numa_agent_`, counters end in `_total`, base units (`_seconds`, `_bytes`), ratios 0-1 end in
// `_ratio`. Every series carries `program` (basename of the recorded command); per-node series
// carry `node` (index into machine.nodes), per-thread series `tid` and `thread` (its name). A null
// in the model is no sample (Prometheus has no null). Reads the model only.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

std::string render_report_prometheus(const nlohmann::json& report);

// Label value escaping of the exposition format: backslash, double quote and newline.
std::string prometheus_label_escape(std::string_view value);

}  // namespace numa_agent::analyzer
