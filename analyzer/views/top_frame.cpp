// See top_frame.hpp.
#include "analyzer/views/top_frame.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "analyzer/views/format.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

std::string cell(std::string s, std::size_t width) {
  if (s.size() >= width) return s.substr(0, width - 1) + " ";
  s.resize(width, ' ');
  return s;
}

std::string right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : std::string(width - s.size(), ' ') + s + " ";
}

std::string pages_text(double pages) {
  char buf[32];
  if (pages >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", pages / 1e6);
  else if (pages >= 1e4) std::snprintf(buf, sizeof buf, "%.0fk", pages / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", pages);
  return buf;
}

std::string by_node(const json& obj) {
  std::string out;
  if (obj.is_object())
    for (auto& [node, v] : obj.items())
      out += (out.empty() ? "N" : " N") + node + "=" + (v.is_number() ? pages_text(v.get<double>()) : v.dump());
  return out.empty() ? "-" : out;
}

// Header: the process, the report's score and components, the interval's hint faults, notes.
std::vector<std::string> header_lines(const TopFrame& f, const TopLayout& layout) {
  std::vector<std::string> lines;
  const json& r = f.report;
  const json& comp = field(r, "components");
  const json& ev = field(r, "evidence");
  char buf[512];
  const char* sort_name = layout.sort == TopSort::Score ? "score" : layout.sort == TopSort::Migrations ? "migrations" : "node";
  std::snprintf(buf, sizeof buf, "numa-analyze top - PID %d (%s)  %zu threads  %.0f s  every %.1f s  sort: %s", f.pid,
                f.command.empty() ? "?" : f.command.c_str(), f.threads.size(), f.elapsed_s, f.interval_s, sort_name);
  lines.push_back(buf);
  const json& score = field(r, "score");
  lines.push_back("score " + (score.is_number() ? num(score, "%.1f") : std::string("-")) + "  locality " +
                  pct(field(comp, "locality")) + "  stability " + num(field(comp, "stability"), "%.2f") + "  balance " +
                  num(field(comp, "balance"), "%.2f") + "  (locality from " +
                  (field(ev, "locality_source").is_string() ? ev["locality_source"].get<std::string>() : "-") +
                  (field(ev, "confidence").is_string() ? ", confidence " + ev["confidence"].get<std::string>() : "") + ")");
  const json& nb = field(field(r, "machine"), "numa_balancing");
  std::snprintf(buf, sizeof buf, "system hint faults (vmstat, last %.1f s): %llu, local %s   NUMA balancing: %s",
                f.interval_s, static_cast<unsigned long long>(f.hint_faults_interval),
                f.hint_fault_locality_interval ? pct(*f.hint_fault_locality_interval).c_str() : "-",
                nb.is_boolean() ? (nb.get<bool>() ? "on" : "off") : "unknown");
  lines.push_back(buf);
  for (const auto& src : field(ev, "sources"))   // the one live count top adds: its watchpoint probes
    if (field(src, "source") == "watchpoint-sampling") lines.push_back("watchpoints: " + field_or<std::string>(src, "detail", "-"));
  for (const auto& n : f.notes) lines.push_back("note: " + n);
  lines.push_back("");
  return lines;
}

// One row per node: the report's counts and the live threads there now.
std::vector<std::string> node_lines(const TopFrame& f) {
  std::vector<std::string> lines;
  lines.push_back(cell("NODE", 6) + cell("CPUS", 14) + right("THREADS", 8) + right("NOW", 5) + right("RESIDENT PAGES", 15) +
                  right("SERVED", 10) + right("ISSUED", 10));
  const json& machine_nodes = field(field(f.report, "machine"), "nodes");
  const json& nodes = field(field(f.report, "components"), "nodes");
  for (std::size_t i = 0; i < machine_nodes.size(); ++i) {
    const json& n = i < nodes.size() ? nodes[i] : json();
    int now = 0;
    for (const auto& t : f.threads) now += t.node == static_cast<int>(i);
    lines.push_back(cell(std::to_string(i), 6) + cell(field(machine_nodes[i], "cpus").is_string() ? machine_nodes[i]["cpus"].get<std::string>() : "-", 14) +
                    right(num(field(n, "threads"), "%.0f"), 8) + right(std::to_string(now), 5) +
                    right(num(field(n, "resident_pages"), "%.0f"), 15) + right(num(field(n, "accesses_served"), "%.0f"), 10) +
                    right(num(field(n, "accesses_issued"), "%.0f"), 10));
  }
  lines.push_back("");
  return lines;
}

// A live thread and its scored counterpart in the report (matched by tid; may be absent).
struct ThreadRow {
  const TopThread* live;
  const json* scored;
};

std::vector<ThreadRow> sorted_thread_rows(const TopFrame& f, TopSort sort) {
  std::map<int, const json*> report_threads;
  for (const auto& t : field(f.report, "threads"))
    if (field(t, "tid").is_number_integer()) report_threads[t["tid"].get<int>()] = &t;
  std::vector<ThreadRow> rows;
  for (const auto& t : f.threads) rows.push_back({&t, report_threads.count(t.tid) ? report_threads[t.tid] : nullptr});
  auto score_of = [](const ThreadRow& row) {
    const json& s = row.scored ? field(*row.scored, "score") : json();
    return s.is_number() ? s.get<double>() : 1e9;
  };
  auto migrations_of = [](const ThreadRow& row) {
    const json& m = row.scored ? field(*row.scored, "node_migrations") : json();
    return m.is_number() ? m.get<double>() : 0.0;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const ThreadRow& a, const ThreadRow& b) {
    switch (sort) {
      case TopSort::Score:
        if (score_of(a) != score_of(b)) return score_of(a) < score_of(b);
        break;
      case TopSort::Migrations:
        if (migrations_of(a) != migrations_of(b)) return migrations_of(a) > migrations_of(b);
        break;
      case TopSort::Node:
        if (a.live->node != b.live->node) return a.live->node < b.live->node;
        break;
    }
    return a.live->tid < b.live->tid;
  });
  return rows;
}

std::string thread_table_header() {
  return right("TID", 8) + cell("NAME", 16) + right("CPU", 4) + right("NODE", 5) + right("HOME", 5) + right("MIGR", 6) +
         right("+MIGR", 6) + right("LOCALITY", 9) + right("SCORE", 6) + " NUMA FAULTS BY MEMORY NODE";
}

// Live columns from the frame, scored columns from the report.
std::vector<std::string> thread_lines(const TopFrame& f, TopSort sort) {
  std::vector<std::string> lines;
  for (const auto& row : sorted_thread_rows(f, sort)) {
    const json& s = row.scored ? *row.scored : json();
    lines.push_back(right(std::to_string(row.live->tid), 8) + cell(row.live->name, 16) +
                    right(row.live->cpu >= 0 ? std::to_string(row.live->cpu) : "-", 4) +
                    right(row.live->node >= 0 ? std::to_string(row.live->node) : "-", 5) +
                    right(field(s, "home_node").is_number() ? field(s, "home_node").dump() : "-", 5) +
                    right(num(field(s, "node_migrations"), "%.0f"), 6) +
                    right(std::to_string(row.live->node_migrations_interval), 6) + right(pct(field(s, "locality")), 9) +
                    right(num(field(s, "score"), "%.1f"), 6) + " " + by_node(field(s, "numa_faults_by_memory_node")));
  }
  return lines;
}

// The report's first eight mappings, after a blank line and a header.
std::vector<std::string> mapping_lines(const TopFrame& f) {
  std::vector<std::string> lines{"", cell("TOP MAPPINGS", 20) + cell("NAME", 34) + cell("POLICY", 20) +
                                         cell("PAGES BY NODE", 24) + "LOCALITY"};
  int shown = 0;
  for (const auto& m : field(f.report, "mappings")) {
    if (++shown > 8) break;
    std::string name = field(m, "name").is_string() ? m["name"].get<std::string>() : "-";
    if (name.size() > 33) name = "..." + name.substr(name.size() - 30);
    lines.push_back(cell(field(m, "start").is_string() ? m["start"].get<std::string>() : "-", 20) + cell(name, 34) +
                    cell(field(m, "policy").is_string() ? m["policy"].get<std::string>() : "-", 20) +
                    cell(by_node(field(m, "pages_by_node")), 24) + pct(field(m, "locality")));
  }
  return lines;
}

// On a screen, threads get what the mappings leave; the mapping list shrinks first. `used` is
// the number of lines above the thread list.
void fit_to_rows(int rows, int used, std::vector<std::string>& threads, std::vector<std::string>& mappings) {
  int free = rows - used;
  int for_mappings = std::min(static_cast<int>(mappings.size()), std::max(0, free - static_cast<int>(threads.size())));
  if (for_mappings < 4) for_mappings = 0;
  int for_threads = free - for_mappings;
  if (static_cast<int>(threads.size()) > for_threads && for_threads > 0) {
    int hidden = static_cast<int>(threads.size()) - (for_threads - 1);
    threads.resize(static_cast<std::size_t>(for_threads - 1));
    threads.push_back("  ... " + std::to_string(hidden) + " more threads (enlarge the window)");
  } else if (for_threads <= 0) {
    threads.clear();
  }
  mappings.resize(static_cast<std::size_t>(for_mappings));
}

}  // namespace

std::vector<std::string> render_top_frame(const TopFrame& f, const TopLayout& layout) {
  std::vector<std::string> lines = header_lines(f, layout);
  for (auto& l : node_lines(f)) lines.push_back(std::move(l));
  lines.push_back(thread_table_header());
  std::vector<std::string> threads = thread_lines(f, layout.sort), mappings = mapping_lines(f);
  if (layout.rows > 0) fit_to_rows(layout.rows, static_cast<int>(lines.size()) + 1, threads, mappings);
  lines.insert(lines.end(), threads.begin(), threads.end());
  lines.insert(lines.end(), mappings.begin(), mappings.end());
  if (layout.columns > 0)
    for (auto& l : lines)
      if (static_cast<int>(l.size()) > layout.columns) l.resize(static_cast<std::size_t>(layout.columns));
  if (layout.rows > 0 && static_cast<int>(lines.size()) > layout.rows) lines.resize(static_cast<std::size_t>(layout.rows));
  return lines;
}

}  // namespace numa_agent::analyzer
