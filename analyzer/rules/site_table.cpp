// See site_table.hpp.
#include "analyzer/rules/site_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "analyzer/model/json_field.hpp"

namespace numa_agent::analyzer {
namespace {

using nlohmann::json;

constexpr std::size_t kRowLimit = 50;

struct Row {
  const SiteRecord* record = nullptr;   // null: not symbolised (its site string only)
  std::string site, kind;
  double pages = 0, agent_pages = 0, local = 0, remote = 0, cost = 0;
  std::set<int> tids;
  std::map<int, double> placed_on, touched_from;
  bool outside_program = false;   // a summed tail row of sites with no frame of the program
  std::size_t rows_summed = 0;    // > 0: the tail row summing this many rows past the limit
};

void merge_into(Row& sum, const Row& row) {
  sum.pages += row.pages, sum.agent_pages += row.agent_pages;
  sum.local += row.local, sum.remote += row.remote, sum.cost += row.cost;
  sum.tids.insert(row.tids.begin(), row.tids.end());
  for (const auto& [n, v] : row.placed_on) sum.placed_on[n] += v;
  for (const auto& [n, v] : row.touched_from) sum.touched_from[n] += v;
  sum.outside_program = row.record ? !row.record->in_program : row.outside_program;
}

struct MappingTally {
  double local = 0, remote = 0, cost = 0, first_touch_pages = 0;
};

double number(const json& v) { return v.is_number() ? v.get<double>() : 0.0; }

json frame_json(const SiteFrame& f) {
  return {{"site", f.site}, {"key", f.key}, {"function", f.function}, {"file", f.file}, {"line", f.line}};
}

json nodes_json(const std::map<int, double>& by_node) {
  json j = json::object();
  for (auto& [node, v] : by_node) j[std::to_string(node)] = std::round(v * 100) / 100;
  return j;
}

// Weights of the agent's allocation sites for a pool page on `node`: their samples there, or all
// their samples when none was taken on that node.
std::vector<double> allocation_weights(const std::vector<const SiteRecord*>& allocations, int node) {
  std::vector<double> w(allocations.size(), 0.0);
  double sum = 0;
  for (std::size_t i = 0; i < allocations.size(); ++i) {
    const auto& nodes = allocations[i]->nodes;
    w[i] = node >= 0 && static_cast<std::size_t>(node) < nodes.size() ? double(nodes[static_cast<std::size_t>(node)]) : 0.0;
    sum += w[i];
  }
  if (sum == 0)
    for (std::size_t i = 0; i < allocations.size(); ++i) w[i] = double(allocations[i]->samples), sum += w[i];
  for (double& x : w) x = sum > 0 ? x / sum : 0.0;
  return w;
}

}  // namespace

json site_table(const Recording& r, const json& mappings) {
  std::map<std::string, const SiteRecord*> touch_sites;
  std::vector<const SiteRecord*> allocations;
  for (const auto& s : r.sites)
    if (s.origin == "allocation") allocations.push_back(&s);
    else touch_sites.emplace(s.frame.site, &s);

  std::map<std::uint64_t, MappingTally> tallies;
  for (const auto& m : mappings) {
    if (!field(m, "start").is_string()) continue;
    MappingTally& t = tallies[std::strtoull(m["start"].get<std::string>().c_str(), nullptr, 16)];
    t.local = number(field(field(m, "accesses"), "local"));
    t.remote = number(field(field(m, "accesses"), "remote"));
    t.cost = number(field(m, "cost"));
  }
  for (const auto& b : r.first_touch) tallies[b.mapping].first_touch_pages += double(b.pages);

  // Rows by the key that survives runs (build-id + offset), else by site name.
  std::map<std::string, Row> rows;
  auto row_of = [&](const SiteRecord* rec, const std::string& site, const char* kind) -> Row& {
    Row& row = rows[rec && !rec->frame.key.empty() ? rec->frame.key : site];
    row.record = rec, row.site = site, row.kind = kind;
    return row;
  };
  auto add = [&](Row& row, const FirstTouchBucket& b, double weight, bool agent_page) {
    const double pages = double(b.pages) * weight;
    row.pages += pages;
    if (agent_page) row.agent_pages += pages;
    row.tids.insert(b.tid);
    if (b.memory_node >= 0) row.placed_on[b.memory_node] += pages;
    if (b.cpu_node >= 0) row.touched_from[b.cpu_node] += pages;
    const MappingTally& t = tallies[b.mapping];
    const double share = t.first_touch_pages > 0 ? pages / t.first_touch_pages : 0.0;
    row.local += share * t.local, row.remote += share * t.remote, row.cost += share * t.cost;
  };
  for (const auto& b : r.first_touch) {
    if (agent_code(b.site)) {
      if (allocations.empty()) {
        add(row_of(nullptr, "agent pool pages (allocation sites not sampled: NUMA_AGENT_SAMPLE)", "allocation"), b, 1.0, true);
        continue;
      }
      const std::vector<double> w = allocation_weights(allocations, b.memory_node);
      for (std::size_t i = 0; i < allocations.size(); ++i)
        if (w[i] > 0) add(row_of(allocations[i], allocations[i]->frame.site, "allocation"), b, w[i], true);
      continue;
    }
    auto rec = touch_sites.find(b.site);
    add(row_of(rec == touch_sites.end() ? nullptr : rec->second, b.site, "first-touch"), b, 1.0, false);
  }
  // Allocation sites whose blocks no sampled fault reached still belong in the table.
  for (const SiteRecord* a : allocations) row_of(a, a->frame.site, "allocation");

  std::vector<const Row*> order;
  for (auto& [key, row] : rows) order.push_back(&row);
  // Symbolised sites of the program first (all of them), then the rest up to the row limit.
  auto named = [](const Row* row) { return row->record && row->record->in_program; };
  std::stable_sort(order.begin(), order.end(), [&](const Row* a, const Row* b) {
    if (named(a) != named(b)) return named(a);
    return a->cost != b->cost ? a->cost > b->cost : a->pages > b->pages;
  });
  // Rows past the limit are summed into one row per kind and program membership, so the
  // table still accounts for every sampled page (a 4 x 16 MiB memset faults at dozens of ips).
  std::size_t shown = 0;
  while (shown < order.size() && (shown < kRowLimit || named(order[shown]))) ++shown;
  std::map<std::pair<std::string, bool>, Row> tail;
  std::map<std::pair<std::string, bool>, std::size_t> tail_rows;
  for (std::size_t i = shown; i < order.size(); ++i) {
    const Row& row = *order[i];
    const std::pair<std::string, bool> group{row.kind, !row.record || row.record->in_program};
    merge_into(tail[group], row);
    ++tail_rows[group];
  }
  order.resize(shown);
  for (auto& [group, row] : tail) {
    row.kind = group.first;
    row.site = "(" + std::to_string(tail_rows[group]) + " more " + group.first + " sites)";
    row.rows_summed = tail_rows[group];
    order.push_back(&row);
  }
  json sites = json::array();
  for (const Row* shown_row : order) {
    const Row& row = *shown_row;
    const double accesses = row.local + row.remote;
    json entry{{"site", row.site},
               {"kind", row.kind},
               {"pages", static_cast<std::uint64_t>(std::llround(row.pages))},
               {"bytes", static_cast<std::uint64_t>(std::llround(row.pages * 4096))},
               {"agent_pool_pages", static_cast<std::uint64_t>(std::llround(row.agent_pages))},
               {"threads", json(std::vector<int>(row.tids.begin(), row.tids.end()))},
               {"touched_from_node", nodes_json(row.touched_from)},
               {"placed_on_node", nodes_json(row.placed_on)},
               {"accesses", {{"local", std::round(row.local * 100) / 100}, {"remote", std::round(row.remote * 100) / 100}}},
               {"remote_share", accesses > 0 ? json(std::round(row.remote / accesses * 1000) / 1000) : json(nullptr)},
               {"cost", std::round(row.cost * 1e6) / 1e6},   // evidence.cost_unit: a share, so keep 6 places
               {"in_program", row.record ? row.record->in_program : !row.outside_program}};
    if (row.rows_summed > 0) entry["rows_summed"] = row.rows_summed;
    if (row.record) {
      const SiteRecord& rec = *row.record;
      entry["key"] = rec.frame.key;
      entry["module"] = rec.frame.module;
      entry["function"] = rec.frame.function;
      entry["file"] = rec.frame.file;
      entry["line"] = rec.frame.line;
      json callers = json::array();
      for (const auto& c : rec.callers) callers.push_back(frame_json(c));
      entry["callers"] = std::move(callers);
      if (rec.origin == "allocation") entry["allocation_samples"] = rec.samples, entry["estimated_bytes"] = rec.estimated_bytes;
    }
    sites.push_back(std::move(entry));
  }
  return sites;
}

}  // namespace numa_agent::analyzer
