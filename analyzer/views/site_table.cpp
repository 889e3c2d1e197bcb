// See site_table.hpp.
#include "analyzer/views/site_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "analyzer/views/format.hpp"
#include "analyzer/views/render_html.hpp"

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
};

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

void add_site_table(json& report, const Recording& r) {
  if (r.sites.empty()) return;
  std::map<std::string, const SiteRecord*> touch_sites;
  std::vector<const SiteRecord*> allocations;
  for (const auto& s : r.sites)
    if (s.origin == "allocation") allocations.push_back(&s);
    else touch_sites.emplace(s.frame.site, &s);

  std::map<std::uint64_t, MappingTally> tallies;
  for (const auto& m : field(report, "mappings")) {
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
  json sites = json::array();
  for (std::size_t i = 0; i < order.size() && (i < kRowLimit || named(order[i])); ++i) {
    const Row& row = *order[i];
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
               {"cost", std::round(row.cost * 100) / 100},
               {"in_program", !row.record || row.record->in_program}};
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
  report["sites"] = std::move(sites);
}

std::string site_label(const json& frame) {
  const json& function = field(frame, "function");
  const json& file = field(frame, "file");
  std::string name = function.is_string() && !function.get<std::string>().empty() ? function.get<std::string>() : "";
  if (name.empty()) return field(frame, "site").is_string() ? frame["site"].get<std::string>() : "?";
  if (file.is_string() && !file.get<std::string>().empty()) {
    std::string path = file;
    name += " (" + path.substr(path.find_last_of('/') + 1) + ":" + std::to_string(field(frame, "line").is_number() ? frame["line"].get<int>() : 0) + ")";
  }
  return name;
}

namespace {

bool has_site_table(const json& report) {
  for (const auto& s : field(report, "sites"))
    if (s.is_object() && s.contains("remote_share")) return true;
  return false;
}

std::string nodes_text(const json& by_node) {
  std::string out;
  double total = 0;
  for (auto& [node, v] : by_node.items()) total += number(v);
  for (auto& [node, v] : by_node.items())
    out += (out.empty() ? "" : " ") + std::string("N") + node + "=" + pct(total > 0 ? json(number(v) / total) : json(nullptr));
  return out.empty() ? "-" : out;
}

std::string bytes_text(const json& v) {
  const double b = number(v);
  char buf[32];
  if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s + " ";
}

}  // namespace

std::string render_site_table_text(const json& report) {
  if (!has_site_table(report)) return "";
  std::ostringstream out;
  out << "Sites in the program (by estimated remote-access cost)\n";
  out << "  " << pad("site", 44) << pad("bytes", 10) << pad("threads", 7) << pad("placed on", 20) << "remote share\n";
  int shown = 0;
  double outside_bytes = 0;
  for (const auto& s : field(report, "sites")) {
    if (field(s, "in_program").is_boolean() && !s["in_program"].get<bool>()) {
      outside_bytes += number(field(s, "bytes"));
      continue;
    }
    if (++shown > 15) break;
    out << "  " << pad(site_label(s), 44) << pad(bytes_text(field(s, "bytes")), 10)
        << pad(std::to_string(field(s, "threads").size()), 7) << pad(nodes_text(field(s, "placed_on_node")), 20)
        << pct(field(s, "remote_share"), true) << "\n";
    int depth = 0;
    for (const auto& c : field(s, "callers"))
      if (++depth <= 3) out << "      <- " << site_label(c) << "\n";
  }
  if (outside_bytes > 0)
    out << "  (" << bytes_text(outside_bytes) << " first touched with no frame of the program in the stack: loader, libc)\n";
  return out.str() + "\n";
}

std::string render_site_table_html(const json& report) {
  if (!has_site_table(report)) return "";
  std::ostringstream s;
  s << "<section id=\"sites\" class=\"card wide\"><h2>Sites in the program</h2><table><tr><th>site</th><th>called from</th>"
       "<th>kind</th><th>bytes</th><th>threads</th><th>placed on</th><th>remote share</th></tr>";
  for (const auto& site : field(report, "sites")) {
    std::string callers;
    for (const auto& c : field(site, "callers")) callers += (callers.empty() ? "" : " ← ") + site_label(c);
    s << "<tr><td><code>" << html_escape(site_label(site)) << "</code></td><td>" << html_escape(callers.empty() ? "-" : callers)
      << "</td><td>" << html_escape(field(site, "kind").is_string() ? site["kind"].get<std::string>() : "-") << "</td><td>"
      << html_escape(bytes_text(field(site, "bytes"))) << "</td><td>" << field(site, "threads").size() << "</td><td>"
      << html_escape(nodes_text(field(site, "placed_on_node"))) << "</td><td>" << pct(field(site, "remote_share"), true)
      << "</td></tr>";
  }
  s << "</table></section>";
  return s.str();
}

}  // namespace numa_agent::analyzer
