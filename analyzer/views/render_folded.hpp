// `report --format folded`: the site table's remote-access cost by call path, one
// "outermost;...;site N" line per site (flamegraph.pl, speedscope and inferno read it). N is the
// site's estimated remote-access cost (evidence.cost_unit, a share of the program's) in millionths,
// at least 1 when not zero; sites with no remote cost are left out. Empty when the report has no site table.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

std::string render_report_folded(const nlohmann::json& report);

}  // namespace numa_agent::analyzer
