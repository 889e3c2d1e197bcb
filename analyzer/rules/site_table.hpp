// The per-site table of the report model: the program's code sites (symbolised allocation and
// first-touch sites of the recording, SiteRecord) with the bytes they placed, the threads and nodes
// involved and the share of the accesses to their memory that were remote. A mapping's accesses are
// split over the sites by their share of its first-touched pages (accesses are sampled per mapping,
// not per page). The agent's own pool pages are split over its sampled allocation sites by node,
// never shown as an agent site. Views render it (views/site_table.hpp).
#pragma once
#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// The report's "sites" for a recording that carries SiteRecords, from the report's "mappings"
// (their accesses and cost).
nlohmann::json site_table(const Recording& recording, const nlohmann::json& mappings);

}  // namespace numa_agent::analyzer
