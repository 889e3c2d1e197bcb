// `report --format html`: the report model (report.hpp) as one self-contained HTML page. Charts
// are inline SVG generated here (no JavaScript library, no network: a Content-Security-Policy
// forbids every fetch); reads the model only and computes nothing new.
//
// Hooks for tests and tools: every chart is `<svg data-chart="score|memory|traffic|heatmap">`,
// every heat-map cell is `<rect class="cell" data-tid=".." data-node="..">`, and a tiny inline
// script stamps each chart with `data-rendered-size="WxH"` (its laid-out size) and the root
// element with `data-render-check="ok"` once the page has loaded without a script error.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace numa_agent::analyzer {

std::string render_report_html(const nlohmann::json& report);

// &, <, >, " and ' as entities: safe in element text and in quoted attribute values.
std::string html_escape(std::string_view text);

}  // namespace numa_agent::analyzer
