// Terminal rendering of the report JSON (report.hpp) and of the topology JSON. Reads the model
// only; computes nothing new.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

std::string render_report_text(const nlohmann::json& report);
std::string render_topology_text(const nlohmann::json& topology);

}  // namespace numa_agent::analyzer
