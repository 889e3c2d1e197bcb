// The per-site table: the program's code sites (symbolised allocation and first-touch sites of the
// recording, SiteRecord) with the bytes they placed, the threads and nodes involved and the share
// of the accesses to their memory that were remote. A mapping's accesses are split over the sites
// by their share of its first-touched pages (accesses are sampled per mapping, not per page). The
// agent's own pool pages are split over its sampled allocation sites by node, never shown as an
// agent site. Rows replace the report model's "sites" (same keys, plus the site's name and callers).
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// Rewrites report["sites"] as the site table when the recording carries SiteRecords (recordings
// made before sites were symbolised keep their sites as they were).
void add_site_table(nlohmann::json& report, const Recording& recording);
// The report model with the site table when it was scored from a recording (`report` takes either).
inline nlohmann::json with_site_table(nlohmann::json report, const std::optional<Recording>& recording) {
  if (recording) add_site_table(report, *recording);
  return report;
}
// "function (file:line)", or the function, or the site's module+offset: how views name a site row or frame.
std::string site_label(const nlohmann::json& frame);
// The table's section of the text and HTML reports; "" when the report has no site table.
std::string render_site_table_text(const nlohmann::json& report);
std::string render_site_table_html(const nlohmann::json& report);

}  // namespace numa_agent::analyzer
