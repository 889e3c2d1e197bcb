// See top_model.hpp.
#include "analyzer/evidence/top_model.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/os/procfs.hpp"
#include "analyzer/evidence/proc_parsers.hpp"
#include "analyzer/rules/report.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

std::string describe(int error) { return std::string(std::strerror(error)) + " (" + errno_name(error) + ")"; }

std::map<std::string, std::uint64_t> read_vmstat() {
  auto text = os::read_text_file("/proc/vmstat");
  if (auto* t = (text ? &*text : nullptr)) return parse_vmstat(*t);
  return {};
}

std::uint64_t counter_delta(const std::map<std::string, std::uint64_t>& now,
                            const std::map<std::string, std::uint64_t>& then, const std::string& key) {
  auto a = now.find(key), b = then.find(key);
  return a != now.end() && b != then.end() && a->second >= b->second ? a->second - b->second : 0;
}

}  // namespace

TopSampler::TopSampler(int pid, MachineInfo machine) : pid_(pid) {
  auto stat = os::read_text_file(proc("stat"));
  if (auto* err = (stat ? nullptr : &stat.error())) {
    if (err->code == ENOENT || err->code == ESRCH) throw TopError("no process with PID " + std::to_string(pid));
    throw TopError("cannot watch PID " + std::to_string(pid) + ": " + proc("stat") + ": " + describe(err->code));
  }
  if (!os::process_running(pid)) throw TopError("PID " + std::to_string(pid) + " is not running (zombie)");
  rec_.machine = std::move(machine);
  rec_.mode = "attach";
  rec_.pid = pid;
  rec_.stop_reason = "duration";
  rec_.tool_version = NUMA_AGENT_VERSION;
  for (std::size_t n = 0; n < rec_.machine.nodes.size(); ++n)
    for (int cpu : rec_.machine.nodes[n].cpus) {
      if (static_cast<std::size_t>(cpu) >= cpu_node_.size()) cpu_node_.resize(static_cast<std::size_t>(cpu) + 1, -1);
      cpu_node_[static_cast<std::size_t>(cpu)] = static_cast<int>(n);
    }
  if (auto cmdline = os::read_text_file(proc("cmdline")); cmdline.has_value()) {
    std::string arg;
    for (char c : *cmdline) {
      if (c == '\0') rec_.command.push_back(arg), arg.clear();
      else arg += c;
    }
    if (!arg.empty()) rec_.command.push_back(arg);
  }
  vmstat_start_ = vmstat_last_ = read_vmstat();
  start_ns_ = os::monotonic_ns();
}

double TopSampler::now_s() const { return double(os::monotonic_ns() - start_ns_) / 1e9; }

bool TopSampler::poll_threads() {
  auto tasks = os::list_directory(proc("task"));
  if (!tasks.has_value() || !os::process_running(pid_)) return false;
  const double t = now_s();
  for (auto& [tid, ts] : threads_) ts.alive = false;
  thread_order_.clear();
  for (const auto& name : *tasks) {
    int tid = std::atoi(name.c_str());
    if (tid <= 0) continue;
    auto text = os::read_text_file(proc("task/" + name + "/stat"));
    if (!text.has_value()) continue;   // the thread just ended
    auto stat = parse_task_stat(*text);
    if (!stat) continue;
    auto [it, inserted] = threads_.try_emplace(tid);
    ThreadState& ts = it->second;
    if (inserted) {
      ts.record.tid = tid;
      ts.record.first_seen_s = t;
    }
    ts.alive = true;
    ts.record.name = stat->comm;
    ts.record.last_seen_s = t;
    ts.cpu = stat->processor;
    int node = ts.cpu >= 0 && static_cast<std::size_t>(ts.cpu) < cpu_node_.size() ? cpu_node_[static_cast<std::size_t>(ts.cpu)] : -1;
    if (node >= 0) {
      if (ts.node >= 0 && node != ts.node) ++ts.record.node_migrations;
      ts.node = node;
      ++ts.record.residency[node];
    }
    thread_order_.push_back(tid);
  }
  // Threads that ended leave the live view.
  for (auto it = threads_.begin(); it != threads_.end();) it = it->second.alive ? std::next(it) : threads_.erase(it);
  ++polls_;
  return true;
}

std::optional<TopFrame> TopSampler::refresh(double interval_s) {
  if (!poll_threads()) return std::nullopt;
  TopFrame frame;
  frame.pid = pid_;
  frame.interval_s = interval_s;
  frame.elapsed_s = now_s();
  for (const auto& a : rec_.command) frame.command += (frame.command.empty() ? "" : " ") + a;

  // Per-thread sched: NUMA faults by memory node, CPU migrations.
  bool faults_nonzero = false, sched_numa_lines = false;
  int sched_reads = 0;
  for (auto& [tid, ts] : threads_) {
    auto text = os::read_text_file(proc("task/" + std::to_string(tid) + "/sched"));
    if (auto* err = (text ? nullptr : &text.error())) {
      sched_error_ = err->code;
      continue;
    }
    ++sched_reads;
    TaskSched s = parse_task_sched(*text);
    if (s.nr_migrations) {
      if (!ts.first_nr_migrations) ts.first_nr_migrations = s.nr_migrations;
      ts.record.cpu_migrations = *s.nr_migrations - *ts.first_nr_migrations;
    }
    ts.record.numa_faults.clear();
    for (const auto& f : s.numa_faults) {
      ts.record.numa_faults.push_back({f.node, f.task_private, f.task_shared});
      sched_numa_lines = true;
      faults_nonzero |= f.task_total() > 0;
    }
  }

  // Placement: numa_maps (pages per node) with ends from maps.
  rec_.mappings.clear();
  auto numa_maps = os::read_text_file(proc("numa_maps"));
  if (auto* err = (numa_maps ? nullptr : &numa_maps.error())) {
    numa_maps_error_ = err->code;
    if (!os::process_running(pid_)) return std::nullopt;
    frame.notes.push_back("per-node memory unavailable: " + proc("numa_maps") + ": " + describe(err->code) +
                          " (needs ptrace read access: same user or CAP_SYS_PTRACE)");
  } else {
    ++numa_maps_reads_;
    std::vector<MapsEntry> maps;
    if (auto m = os::read_text_file(proc("maps")); m.has_value())
      maps = parse_maps(*m);
    for (const auto& nm : parse_numa_maps(*numa_maps)) {
      MappingRecord m;
      m.start = nm.start;
      m.name = nm.name;
      m.policy = nm.policy;
      m.page_kb = nm.page_kb;
      const MapsEntry* e = find_mapping(maps, nm.start);
      m.end = e ? e->end : nm.start + nm.total_pages() * nm.page_kb * 1024;
      if (m.name.empty() && e) m.name = e->path;
      for (const auto& [os_node, pages] : nm.pages_by_node)
        if (int idx = rec_.machine.node_index(os_node); idx >= 0) m.pages_by_node[idx] += pages;
      rec_.mappings.push_back(std::move(m));
    }
  }

  // System-wide hint faults: since start (the recording) and over the last interval (the frame).
  auto vm = read_vmstat();
  rec_.vmstat_delta.clear();
  for (const auto& [k, v] : vm)
    if (k.starts_with("numa_") && vmstat_start_.count(k)) rec_.vmstat_delta[k] = counter_delta(vm, vmstat_start_, k);
  frame.hint_faults_interval = counter_delta(vm, vmstat_last_, "numa_hint_faults");
  if (frame.hint_faults_interval > 0)
    frame.hint_fault_locality_interval =
        double(counter_delta(vm, vmstat_last_, "numa_hint_faults_local")) / double(frame.hint_faults_interval);
  vmstat_last_ = vm;

  // The recording so far, scored like any other.
  rec_.duration_s = frame.elapsed_s;
  rec_.threads.clear();
  for (int tid : thread_order_) {
    auto it = threads_.find(tid);
    if (it == threads_.end()) continue;
    ThreadState& ts = it->second;
    rec_.threads.push_back(ts.record);
    frame.threads.push_back({tid, ts.record.name, ts.cpu, ts.node, ts.record.node_migrations - ts.node_migrations_at_refresh});
    ts.node_migrations_at_refresh = ts.record.node_migrations;
  }
  std::sort(rec_.threads.begin(), rec_.threads.end(), [](const ThreadRecord& a, const ThreadRecord& b) {
    return a.first_seen_s != b.first_seen_s ? a.first_seen_s < b.first_seen_s : a.tid < b.tid;
  });
  const bool one_node = rec_.machine.nodes.size() < 2;
  rec_.evidence.clear();
  rec_.evidence.push_back({"thread-residency", polls_ > 0,
                           std::to_string(polls_) + " polls of /proc/PID/task/TID/stat field 39 (CPU last run on)", 0, ""});
  rec_.evidence.push_back({"numa-maps", numa_maps_reads_ > 0,
                           numa_maps_reads_ > 0 ? "/proc/PID/numa_maps at every refresh"
                                                : "/proc/PID/numa_maps: " + describe(numa_maps_error_),
                           numa_maps_reads_ > 0 ? 0 : numa_maps_error_,
                           numa_maps_reads_ > 0 ? "" : errno_name(numa_maps_error_)});
  std::string sched_detail = sched_reads == 0      ? "/proc/PID/task/TID/sched: " + describe(sched_error_)
                             : !sched_numa_lines  ? "no numa_faults lines (kernel without CONFIG_NUMA_BALANCING)"
                             : faults_nonzero     ? "per-thread numa_faults by memory node from /proc/PID/task/TID/sched"
                                                  : "per-thread numa_faults are all zero (no NUMA balancing scans happened)";
  rec_.evidence.push_back({"task-numa-faults", faults_nonzero && !one_node, sched_detail,
                           sched_reads == 0 ? sched_error_ : 0, sched_reads == 0 ? errno_name(sched_error_) : ""});
  rec_.evidence.push_back({"pmu-memory-sampling", false, "top reads /proc only; `numa-analyze record` samples the PMU", 0, ""});
  frame.report = build_report(rec_);
  return frame;
}

// ---- rendering ----

namespace {

const json& at(const json& j, const char* key) {
  static const json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

std::string pct(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100);
  return buf;
}

std::string num(const json& v, const char* fmt = "%.2f") {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

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

}  // namespace

std::vector<std::string> render_top_frame(const TopFrame& f, const TopLayout& layout) {
  std::vector<std::string> lines;
  const json& r = f.report;
  const json& comp = at(r, "components");
  const json& ev = at(r, "evidence");
  char buf[512];
  const char* sort_name = layout.sort == TopSort::Score ? "score" : layout.sort == TopSort::Migrations ? "migrations" : "node";
  std::snprintf(buf, sizeof buf, "numa-analyze top - PID %d (%s)  %zu threads  %.0f s  every %.1f s  sort: %s", f.pid,
                f.command.empty() ? "?" : f.command.c_str(), f.threads.size(), f.elapsed_s, f.interval_s, sort_name);
  lines.push_back(buf);
  const json& score = at(r, "score");
  lines.push_back("score " + (score.is_number() ? num(score, "%.1f") : std::string("-")) + "  locality " +
                  pct(at(comp, "locality")) + "  stability " + num(at(comp, "stability")) + "  balance " +
                  num(at(comp, "balance")) + "  (locality from " +
                  (at(ev, "locality_source").is_string() ? ev["locality_source"].get<std::string>() : "-") +
                  (at(ev, "confidence").is_string() ? ", confidence " + ev["confidence"].get<std::string>() : "") + ")");
  const json& nb = at(at(r, "machine"), "numa_balancing");
  std::snprintf(buf, sizeof buf, "system hint faults (vmstat, last %.1f s): %llu, local %s   NUMA balancing: %s",
                f.interval_s, static_cast<unsigned long long>(f.hint_faults_interval),
                f.hint_fault_locality_interval ? pct(*f.hint_fault_locality_interval).c_str() : "-",
                nb.is_boolean() ? (nb.get<bool>() ? "on" : "off") : "unknown");
  lines.push_back(buf);
  for (const auto& n : f.notes) lines.push_back("note: " + n);
  lines.push_back("");

  lines.push_back(cell("NODE", 6) + cell("CPUS", 14) + right("THREADS", 8) + right("NOW", 5) + right("RESIDENT PAGES", 15) +
                  right("SERVED", 10) + right("ISSUED", 10));
  const json& machine_nodes = at(at(r, "machine"), "nodes");
  const json& nodes = at(comp, "nodes");
  for (std::size_t i = 0; i < machine_nodes.size(); ++i) {
    const json& n = i < nodes.size() ? nodes[i] : json();
    int now = 0;
    for (const auto& t : f.threads) now += t.node == static_cast<int>(i);
    lines.push_back(cell(std::to_string(i), 6) + cell(at(machine_nodes[i], "cpus").is_string() ? machine_nodes[i]["cpus"].get<std::string>() : "-", 14) +
                    right(num(at(n, "threads"), "%.0f"), 8) + right(std::to_string(now), 5) +
                    right(num(at(n, "resident_pages"), "%.0f"), 15) + right(num(at(n, "accesses_served"), "%.0f"), 10) +
                    right(num(at(n, "accesses_issued"), "%.0f"), 10));
  }
  lines.push_back("");

  // Threads: live columns from the frame, scored columns from the report (matched by tid).
  std::map<int, const json*> report_threads;
  for (const auto& t : at(r, "threads"))
    if (at(t, "tid").is_number_integer()) report_threads[t["tid"].get<int>()] = &t;
  struct Row {
    const TopThread* live;
    const json* scored;
  };
  std::vector<Row> rows;
  for (const auto& t : f.threads) rows.push_back({&t, report_threads.count(t.tid) ? report_threads[t.tid] : nullptr});
  auto score_of = [](const Row& row) {
    const json& s = row.scored ? at(*row.scored, "score") : json();
    return s.is_number() ? s.get<double>() : 1e9;
  };
  auto migrations_of = [](const Row& row) {
    const json& m = row.scored ? at(*row.scored, "node_migrations") : json();
    return m.is_number() ? m.get<double>() : 0.0;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    switch (layout.sort) {
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
  lines.push_back(right("TID", 8) + cell("NAME", 16) + right("CPU", 4) + right("NODE", 5) + right("HOME", 5) +
                  right("MIGR", 6) + right("+MIGR", 6) + right("LOCALITY", 9) + right("SCORE", 6) + " NUMA FAULTS BY MEMORY NODE");
  std::vector<std::string> thread_lines;
  for (const auto& row : rows) {
    const json& s = row.scored ? *row.scored : json();
    thread_lines.push_back(right(std::to_string(row.live->tid), 8) + cell(row.live->name, 16) +
                           right(row.live->cpu >= 0 ? std::to_string(row.live->cpu) : "-", 4) +
                           right(row.live->node >= 0 ? std::to_string(row.live->node) : "-", 5) +
                           right(at(s, "home_node").is_number() ? at(s, "home_node").dump() : "-", 5) +
                           right(num(at(s, "node_migrations"), "%.0f"), 6) +
                           right(std::to_string(row.live->node_migrations_interval), 6) + right(pct(at(s, "locality")), 9) +
                           right(num(at(s, "score"), "%.1f"), 6) + " " + by_node(at(s, "numa_faults_by_memory_node")));
  }

  std::vector<std::string> mapping_lines;
  mapping_lines.push_back("");
  mapping_lines.push_back(cell("TOP MAPPINGS", 20) + cell("NAME", 34) + cell("POLICY", 20) + cell("PAGES BY NODE", 24) +
                          "LOCALITY");
  int shown = 0;
  for (const auto& m : at(r, "mappings")) {
    if (++shown > 8) break;
    std::string name = at(m, "name").is_string() ? m["name"].get<std::string>() : "-";
    if (name.size() > 33) name = "..." + name.substr(name.size() - 30);
    mapping_lines.push_back(cell(at(m, "start").is_string() ? m["start"].get<std::string>() : "-", 20) + cell(name, 34) +
                            cell(at(m, "policy").is_string() ? m["policy"].get<std::string>() : "-", 20) +
                            cell(by_node(at(m, "pages_by_node")), 24) + pct(at(m, "locality")));
  }

  // On a screen, threads get what the mappings leave; the mapping list shrinks first.
  if (layout.rows > 0) {
    int free = layout.rows - static_cast<int>(lines.size()) - 1;
    int for_mappings = std::min(static_cast<int>(mapping_lines.size()), std::max(0, free - static_cast<int>(thread_lines.size())));
    if (for_mappings < 4) for_mappings = 0;
    int for_threads = free - for_mappings;
    if (static_cast<int>(thread_lines.size()) > for_threads && for_threads > 0) {
      int hidden = static_cast<int>(thread_lines.size()) - (for_threads - 1);
      thread_lines.resize(static_cast<std::size_t>(for_threads - 1));
      thread_lines.push_back("  ... " + std::to_string(hidden) + " more threads (enlarge the window)");
    } else if (for_threads <= 0) {
      thread_lines.clear();
    }
    mapping_lines.resize(static_cast<std::size_t>(for_mappings));
  }
  lines.insert(lines.end(), thread_lines.begin(), thread_lines.end());
  lines.insert(lines.end(), mapping_lines.begin(), mapping_lines.end());
  if (layout.columns > 0)
    for (auto& l : lines)
      if (static_cast<int>(l.size()) > layout.columns) l.resize(static_cast<std::size_t>(layout.columns));
  if (layout.rows > 0 && static_cast<int>(lines.size()) > layout.rows) lines.resize(static_cast<std::size_t>(layout.rows));
  return lines;
}

}  // namespace numa_agent::analyzer
