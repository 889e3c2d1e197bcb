// See render_text.hpp.
#include "analyzer/views/render_text.hpp"

#include <cstdio>
#include <sstream>

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

std::string pct(const json& share) {
  if (!share.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", share.get<double>() * 100.0);
  return buf;
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

const json& at(const json& j, const char* key) {
  static const json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

}  // namespace

std::string render_report_text(const json& report) {
  std::ostringstream out;
  const json& rec = at(at(report, "evidence"), "recording");
  out << "numa-analyze report (" << str(at(report, "schema")) << ")\n";
  std::string cmd;
  for (const auto& a : at(rec, "command")) cmd += (cmd.empty() ? "" : " ") + a.get<std::string>();
  out << "  program: " << (cmd.empty() ? "-" : cmd) << "  pid " << str(at(rec, "pid")) << "  (" << str(at(rec, "mode"))
      << ", " << str(at(rec, "duration_s")) << " s, stopped: " << str(at(rec, "stop_reason"))
      << (at(rec, "agent").is_boolean() && at(rec, "agent").get<bool>() ? ", under the agent" : "") << ")\n\n";

  const json& comp = at(report, "components");
  out << "NUMA efficiency score: "
      << (at(report, "score").is_null() ? "null (" + str(at(comp, "score_note")) + ")" : str(at(report, "score")) + " / 100")
      << "\n";
  out << "  locality " << pct(at(comp, "locality")) << "   remote share " << pct(at(comp, "remote_share"))
      << "   stability " << str(at(comp, "stability")) << "   balance " << str(at(comp, "balance")) << "\n";
  const json& ev = at(report, "evidence");
  out << "  locality from: " << str(at(ev, "locality_source"))
      << (at(ev, "confidence").is_null() ? "" : " (confidence " + str(at(ev, "confidence")) + ")") << "\n\n";

  out << "Machine\n";
  const json& machine = at(report, "machine");
  out << "  " << pad("node", 6) << pad("cpus", 16) << pad("memory", 12) << "distances\n";
  int i = 0;
  for (const auto& n : at(machine, "nodes")) {
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(n.value("memory_bytes", 0ULL)) / (1024.0 * 1024 * 1024));
    std::string dist;
    const json& d = at(machine, "distances");
    if (d.is_array() && i < int(d.size()))
      for (const auto& v : d[static_cast<std::size_t>(i)]) dist += str(v) + " ";
    out << "  " << pad(str(n["node"]), 6) << pad(str(n["cpus"]), 16) << pad(mem, 12) << dist << "\n";
    ++i;
  }
  out << "  NUMA balancing: " << str(at(machine, "numa_balancing")) << "   perf_event_paranoid: "
      << str(at(machine, "perf_event_paranoid")) << "\n\n";

  out << "Per node\n";
  out << "  " << pad("node", 6) << pad("threads", 9) << pad("resident pages", 16) << pad("accesses served", 17)
      << "accesses issued\n";
  for (const auto& n : at(comp, "nodes"))
    out << "  " << pad(str(n["node"]), 6) << pad(str(n["threads"]), 9) << pad(str(n["resident_pages"]), 16)
        << pad(str(n["accesses_served"]), 17) << str(n["accesses_issued"]) << "\n";
  out << "\n";

  out << "Evidence\n";
  for (const auto& s : at(ev, "sources"))
    out << "  " << (s.value("used", false) ? "[used]     " : "[not used] ") << pad(s.value("source", ""), 26)
        << s.value("detail", "") << "\n";
  for (const auto& n : at(ev, "notes")) out << "  note: " << str(n) << "\n";
  out << "\n";

  out << "Threads\n";
  out << "  " << pad("tid", 9) << pad("name", 16) << pad("home", 6) << pad("residency", 22) << pad("node-migr", 11)
      << pad("local", 10) << pad("remote", 10) << pad("locality", 10) << "score\n";
  for (const auto& t : at(report, "threads")) {
    const json& acc = at(t, "accesses");
    out << "  " << pad(str(t["tid"]), 9) << pad(str(t["name"]), 16) << pad(str(t["home_node"]), 6)
        << pad(nodes_inline(t["residency"]), 22) << pad(str(t["node_migrations"]), 11) << pad(str(at(acc, "local")), 10)
        << pad(str(at(acc, "remote")), 10) << pad(pct(t["locality"]), 10) << str(t["score"]) << "\n";
  }
  out << "\n";

  out << "Top mappings\n";
  out << "  " << pad("start", 16) << pad("name", 28) << pad("policy", 14) << pad("pages", 22) << pad("local", 10)
      << pad("remote", 10) << "locality\n";
  int shown = 0;
  for (const auto& m : at(report, "mappings")) {
    if (++shown > 10) break;
    const json& acc = at(m, "accesses");
    out << "  " << pad(str(m["start"]), 16) << pad(str(m["name"]), 28) << pad(str(m["policy"]), 14)
        << pad(nodes_inline(m["pages_by_node"]), 22) << pad(str(at(acc, "local")), 10) << pad(str(at(acc, "remote")), 10)
        << pct(m["locality"]) << "\n";
  }
  out << "\n";

  out << "Top sites\n";
  shown = 0;
  for (const auto& s : at(report, "sites")) {
    if (++shown > 10) break;
    out << "  " << pad(str(at(s, "site")), 40) << pad(str(at(s, "kind")), 12) << "pages " << pad(str(at(s, "pages")), 10)
        << "touched from " << nodes_inline(at(s, "touched_from_node")) << "\n";
  }
  if (at(report, "sites").empty()) out << "  (none)\n";
  out << "\n";

  out << "Recommendations\n";
  const json& recs = at(report, "recommendations");
  if (recs.empty()) {
    std::string note = str(at(comp, "recommendation_note"));
    out << "  none" << (note == "-" ? "" : " (" + note + ")") << "\n";
  }
  for (const auto& r : recs) {
    out << "  " << str(r["rank"]) << ". [" << str(r["kind"]) << "] " << str(r["title"]) << "\n";
    out << "     why:     " << str(r["evidence"]) << "\n";
    out << "     do:      " << str(r["command"]) << "\n";
    const json& g = at(r, "estimated_gain");
    out << "     gain:    " << str(at(g, "cost")) << " (" << str(at(g, "unit")) << "), "
        << pct(at(g, "share_of_remote_cost")) << " of the remote-access cost"
        << (at(g, "upper_bound").is_boolean() && at(g, "upper_bound").get<bool>() ? " (upper bound)" : "") << "\n";
    out << "     rule:    " << str(at(at(r, "rule"), "id")) << " - " << str(at(at(r, "rule"), "source")) << "\n";
  }
  return out.str();
}

std::string render_topology_text(const json& topo) {
  std::ostringstream out;
  out << "Machine: " << str(at(topo, "summary")) << "\n";
  out << "  kernel " << str(at(topo, "kernel")) << ", NUMA balancing " << str(at(topo, "numa_balancing"))
      << ", perf_event_paranoid " << str(at(topo, "perf_event_paranoid")) << "\n\n";
  out << "  " << pad("node", 6) << pad("os", 4) << pad("cpus", 18) << pad("memory", 12) << "distances\n";
  for (const auto& n : at(topo, "nodes")) {
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(n.value("memory_bytes", 0ULL)) / (1024.0 * 1024 * 1024));
    std::string dist;
    for (const auto& v : at(n, "distances")) dist += str(v) + " ";
    out << "  " << pad(str(n["node"]), 6) << pad(str(n["os_index"]), 4) << pad(str(n["cpus"]), 18) << pad(mem, 12) << dist
        << "\n";
  }
  out << "\nPMUs: ";
  for (const auto& p : at(topo, "pmus")) out << str(p) << " ";
  out << "\n\nPerf capabilities (perf_event_open on this process)\n";
  for (const auto& c : at(topo, "capabilities"))
    out << "  " << pad(str(at(c, "name")), 30) << (at(c, "available").get<bool>() ? "yes  " : "no   ")
        << (at(c, "errno_name").is_null() ? "" : pad(str(at(c, "errno_name")), 8)) << str(at(c, "detail")) << "\n";
  return out.str();
}

}  // namespace numa_agent::analyzer
