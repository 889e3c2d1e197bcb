// `compare --format text`: the comparison model (rules/compare.hpp) as a terminal table. Reads
// the model only and computes nothing new.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

std::string render_compare_text(const nlohmann::json& comparison);

}  // namespace numa_agent::analyzer
