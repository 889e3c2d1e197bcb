// `numa-analyze topology --format json` (schema numa-analyze-topology/1): the machine as probed
// and which perf evidence this kernel, CPU and permission level give, each with its errno. The
// text form renders this JSON (render_text.hpp). Pure: no OS, no evidence headers.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// `capabilities`: one probe per perf event kind (EvidenceProbe::source names the event).
nlohmann::json topology_json(const MachineInfo& machine, const std::vector<EvidenceProbe>& capabilities,
                             const std::vector<std::string>& pmus);

}  // namespace numa_agent::analyzer
