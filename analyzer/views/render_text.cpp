// See render_text.hpp.
#include "analyzer/views/render_text.hpp"

#include <cstdio>
#include <sstream>

#include "analyzer/model/report.hpp"
#include "analyzer/views/format.hpp"
#include "analyzer/views/site_table.hpp"
namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

std::string str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<long long>(d)) && d < 1e15 && d > -1e15)
      return std::to_string(static_cast<long long>(d));
    std::snprintf(buf, sizeof buf, "%.3g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string nodes_inline(const json& by_node) {
  if (!by_node.is_object() || by_node.empty()) return "-";
  std::string out;
  for (auto& [node, v] : by_node.items()) out += (out.empty() ? "" : " ") + ("N" + node + "=" + str(v));
  return out;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() > width) return s.substr(0, width - 1) + "~";
  s.resize(width, ' ');
  return s;
}

}  // namespace

std::string render_report_text(const json& report) {
  std::ostringstream out;
  const RecordingSummary rec = read_recording_summary(report);
  out << "numa-analyze report (" << str(field(report, "schema")) << ")\n";
  const std::string cmd = rec.program();
  out << "  program: " << (cmd.empty() ? "-" : cmd) << "  pid " << rec.pid << "  (" << rec.mode << ", "
      << str(json(rec.duration_s)) << " s, stopped: " << rec.stop_reason << (rec.agent ? ", under the agent" : "")
      << ")\n\n";

  const Components comp = read_components(report);
  out << "NUMA efficiency score: "
      << (field(report, "score").is_null() ? "null (" + str(nullable(comp.score_note)) + ")" : str(field(report, "score")) + " / 100")
      << "\n";
  if (comp.score_interval)
    out << "  score interval " << str(json(comp.score_interval->low)) << "-" << str(json(comp.score_interval->high)) << "\n";
  out << "  " << remote_share_statement(comp) << "\n";
  out << "  locality " << pct(nullable(comp.locality)) << "   stability " << str(nullable(comp.stability))
      << "   balance " << str(nullable(comp.balance)) << "\n";
  const json& ev = field(report, "evidence");
  out << "  locality from: " << str(field(ev, "locality_source"))
      << (field(ev, "confidence").is_null() ? "" : " (confidence " + str(field(ev, "confidence")) + ")") << "\n";
  if (comp.coverage) {
    char cov[160];
    std::snprintf(cov, sizeof cov, "  coverage: access evidence saw %.1f %% of %.1f MiB counted resident memory (%.1f MiB of unsampled file pages not counted)\n",
                  comp.coverage->share * 100.0, double(comp.coverage->counted_bytes) / (1 << 20),
                  double(comp.coverage->not_counted_bytes) / (1 << 20));
    out << cov;
  }
  out << "\n";

  out << "Machine\n";
  const json& machine = field(report, "machine");
  out << "  " << pad("node", 6) << pad("cpus", 16) << pad("memory", 12) << "distances\n";
  int i = 0;
  for (const auto& n : field(machine, "nodes")) {
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(n.value("memory_bytes", 0ULL)) / (1024.0 * 1024 * 1024));
    std::string dist;
    const json& d = field(machine, "distances");
    if (d.is_array() && i < int(d.size()))
      for (const auto& v : d[static_cast<std::size_t>(i)]) dist += str(v) + " ";
    out << "  " << pad(str(n["node"]), 6) << pad(str(n["cpus"]), 16) << pad(mem, 12) << dist << "\n";
    ++i;
  }
  out << "  NUMA balancing: " << str(field(machine, "numa_balancing")) << "   perf_event_paranoid: "
      << str(field(machine, "perf_event_paranoid")) << "\n\n";

  out << "Per node\n";
  out << "  " << pad("node", 6) << pad("threads", 9) << pad("resident pages", 16) << pad("accesses served", 17)
      << "accesses issued\n";
  for (const auto& n : comp.nodes)
    out << "  " << pad(std::to_string(n.node), 6) << pad(std::to_string(n.threads), 9)
        << pad(std::to_string(n.resident_pages), 16) << pad(str(json(n.accesses_served)), 17)
        << str(json(n.accesses_issued)) << "\n";
  out << "\n";

  out << "Evidence\n";
  for (const auto& s : field(ev, "sources"))
    out << "  " << (s.value("used", false) ? "[used]     " : "[not used] ") << pad(s.value("source", ""), 26)
        << s.value("detail", "") << "\n";
  for (const auto& n : field(ev, "notes")) out << "  note: " << str(n) << "\n";
  const json& fusion = field(ev, "fusion");
  for (const auto& s : field(fusion, "sources")) {
    if (!field(s, "samples").is_number() || !field(s, "bytes_decided").is_number()) continue;
    if (s["samples"].get<double>() <= 0 && s["bytes_decided"].get<double>() <= 0) continue;
    char line[200];
    std::snprintf(line, sizeof line, "  fused: %-22s %10.0f samples, %10.0f used, decides %.1f MiB", str(field(s, "source")).c_str(),
                  s["samples"].get<double>(), field_or(s, "used", 0.0), s["bytes_decided"].get<double>() / (1 << 20));
    out << line << "\n";
  }
  out << "\n";

  out << "Threads\n";
  // A role column only when a role rule placed some thread (runs without rules read as before).
  bool any_role = false;
  for (const auto& t : field(report, "threads")) any_role = any_role || thread_role(t).has_value();
  out << "  " << pad("tid", 9) << pad("name", 16) << (any_role ? pad("role", 12) : "") << pad("home", 6) << pad("residency", 22) << pad("node-migr", 11)
      << pad("local", 10) << pad("remote", 10) << pad("locality", 10) << pad("score", 7) << "remote share\n";
  for (const auto& t : field(report, "threads")) {
    const json& acc = field(t, "accesses");
    out << "  " << pad(str(t["tid"]), 9) << pad(str(t["name"]), 16) << (any_role ? pad(thread_role(t).value_or("-"), 12) : "")
        << pad(str(t["home_node"]), 6)
        << pad(nodes_inline(t["residency"]), 22) << pad(str(t["node_migrations"]), 11) << pad(str(field(acc, "local")), 10)
        << pad(str(field(acc, "remote")), 10) << pad(pct(t["locality"]), 10) << pad(str(t["score"]), 7)
        << share_cell(field(t, "remote_share_estimate"), field(t, "remote_share_interval"))
        << (field(t, "remote_share_basis") == "placement-estimate" ? " (placement estimate)" : "") << "\n";
  }
  out << "\n";

  out << "Top mappings\n";
  out << "  " << pad("start", 16) << pad("name", 28) << pad("policy", 14) << pad("pages", 22) << pad("local", 10)
      << pad("remote", 10) << pad("locality", 10) << "remote share\n";
  int shown = 0;
  for (const auto& m : field(report, "mappings")) {
    if (++shown > 10) break;
    const json& acc = field(m, "accesses");
    out << "  " << pad(str(m["start"]), 16) << pad(str(m["name"]), 28) << pad(str(m["policy"]), 14)
        << pad(nodes_inline(m["pages_by_node"]), 22) << pad(str(field(acc, "local")), 10) << pad(str(field(acc, "remote")), 10)
        << pad(pct(m["locality"]), 10) << share_cell(field(m, "remote_share_estimate"), field(m, "remote_share_interval"))
        << (field(m, "basis") == "sampled" || !field(m, "basis").is_string() ? "" : " (" + str(m["basis"]) + ")") << "\n";
  }
  out << "\n";

  out << "Top sites\n";
  shown = 0;
  for (const auto& s : field(report, "sites")) {
    if (++shown > 10) break;
    out << "  " << pad(str(field(s, "site")), 40) << pad(str(field(s, "kind")), 12) << "pages " << pad(str(field(s, "pages")), 10)
        << "touched from " << nodes_inline(field(s, "touched_from_node")) << "\n";
  }
  if (field(report, "sites").empty()) out << "  (none)\n";
  out << "\n";
  out << render_site_table_text(report);

  out << "Recommendations\n";
  const std::vector<Recommendation> recs = read_recommendations(report);
  if (recs.empty()) {
    std::string note = str(nullable(comp.recommendation_note));
    out << "  none" << (note == "-" ? "" : " (" + note + ")") << "\n";
  }
  for (const auto& r : recs) {
    out << "  " << r.rank << ". [" << r.kind << "] " << r.title << "\n";
    out << "     why:     " << r.evidence << "\n";
    out << "     do:      " << r.command << "\n";
    const EstimatedGain& g = r.estimated_gain;
    out << "     gain:    " << str(json(g.cost)) << " [" << str(json(g.cost_low)) << "-" << str(json(g.cost_high)) << "] ("
        << g.unit << "), " << pct(json(g.share_of_remote_cost)) << " of the remote-access cost"
        << (g.upper_bound ? " (upper bound)" : "") << "\n";
    out << "     rule:    " << r.rule.id << " - " << r.rule.source << "\n";
  }
  return out.str();
}

std::string render_topology_text(const json& topo) {
  std::ostringstream out;
  out << "Machine: " << str(field(topo, "summary")) << "\n";
  out << "  kernel " << str(field(topo, "kernel")) << ", NUMA balancing " << str(field(topo, "numa_balancing"))
      << ", perf_event_paranoid " << str(field(topo, "perf_event_paranoid")) << "\n\n";
  out << "  " << pad("node", 6) << pad("os", 4) << pad("cpus", 18) << pad("memory", 12) << "distances\n";
  for (const auto& n : field(topo, "nodes")) {
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(n.value("memory_bytes", 0ULL)) / (1024.0 * 1024 * 1024));
    std::string dist;
    for (const auto& v : field(n, "distances")) dist += str(v) + " ";
    out << "  " << pad(str(n["node"]), 6) << pad(str(n["os_index"]), 4) << pad(str(n["cpus"]), 18) << pad(mem, 12) << dist
        << "\n";
  }
  out << "\nPMUs: ";
  for (const auto& p : field(topo, "pmus")) out << str(p) << " ";
  out << "\n\nPerf capabilities (perf_event_open on this process)\n";
  for (const auto& c : field(topo, "capabilities"))
    out << "  " << pad(str(field(c, "name")), 30) << (field(c, "available").get<bool>() ? "yes  " : "no   ")
        << (field(c, "errno_name").is_null() ? "" : pad(str(field(c, "errno_name")), 8)) << str(field(c, "detail")) << "\n";
  return out.str();
}

}  // namespace numa_agent::analyzer
