// The per-site table's views (the table itself is built by rules/site_table.hpp).
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// "function (file:line)", or the function, or the site's module+offset: how views name a site row or frame.
std::string site_label(const nlohmann::json& frame);
// The table's section of the text and HTML reports; "" when the report has no site table.
std::string render_site_table_text(const nlohmann::json& report);
std::string render_site_table_html(const nlohmann::json& report);

}  // namespace numa_agent::analyzer
