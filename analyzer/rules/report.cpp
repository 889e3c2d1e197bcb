// See report.hpp. Structure: (1) flatten the best access evidence into AccessView rows,
// (2) aggregate per program / thread / mapping / site, (3) components and score, (4) rules.
#include "agent/text.hpp"
#include "analyzer/model/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <type_traits>

#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/rules/rules.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

std::optional<double> coefficient_of_variation(const std::vector<double>& values) {
  if (values.size() < 2) return std::nullopt;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  if (mean <= 0) return std::nullopt;
  double var = 0;
  for (double v : values) var += (v - mean) * (v - mean);
  var /= static_cast<double>(values.size());
  return std::sqrt(var) / mean;
}

std::optional<double> balance_from_cv(double cv, int nodes) {
  if (nodes < 2) return std::nullopt;
  return std::clamp(1.0 - cv / std::sqrt(static_cast<double>(nodes - 1)), 0.0, 1.0);
}

double stability_from_rate(double rate) { return 1.0 / (1.0 + std::max(0.0, rate)); }

namespace {

using text::hex;

std::string percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", share * 100.0);
  return buf;
}

std::string shell_join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+%@") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out.empty() ? "<program>" : out;
}

double rounded(double v, int digits = 4) {
  double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

json optional_json(const std::optional<double>& v, int digits = 4) {
  return v ? json(rounded(*v, digits)) : json(nullptr);
}

// One row of access evidence, whatever its source, already classified.
struct AccessView {
  int tid = 0;
  int cpu_node = -1, memory_node = -1;
  std::uint64_t mapping = 0;
  double local = 0, remote = 0;   // sampled accesses
  double loads = 0, total = 0;
  double cost = 0;                // remote excess latency, in the unit of `cost_unit`
};

struct Tally {
  double local = 0, remote = 0, loads = 0, total = 0, cost = 0;
  void add(const AccessView& a) {
    local += a.local;
    remote += a.remote;
    loads += a.loads;
    total += a.total;
    cost += a.cost;
  }
  std::optional<double> locality() const {
    return local + remote > 0 ? std::optional<double>(local / (local + remote)) : std::nullopt;
  }
};

struct Evidence {
  std::string source;       // evidence source name (matches EvidenceProbe::source)
  std::string confidence;   // high | medium | low
  std::string cost_unit;
  std::vector<AccessView> rows;
  bool per_access = false;  // rows carry per-mapping detail
};

double slit_excess(const MachineInfo& m, int cpu_node, int memory_node) {
  if (cpu_node < 0 || memory_node < 0) {
    // Unknown pair: the mean remote distance of the machine.
    double sum = 0;
    int n = 0;
    for (std::size_t i = 0; i < m.distances.size(); ++i)
      for (std::size_t j = 0; j < m.distances.size(); ++j)
        if (i != j && m.distances[i][i] > 0) sum += double(m.distances[i][j]) / m.distances[i][i] - 1.0, ++n;
    return n ? sum / n : 1.0;
  }
  double local = m.distances[cpu_node][cpu_node];
  return local > 0 ? std::max(0.0, m.distances[cpu_node][memory_node] / local - 1.0) : 1.0;
}

int home_node(const ThreadRecord& t) {
  int best = -1;
  std::uint64_t most = 0;
  for (const auto& [node, n] : t.residency)
    if (n > most) most = n, best = node;
  return best;
}

double lifetime_s(const ThreadRecord& t, double duration) {
  double life = t.last_seen_s - t.first_seen_s;
  if (life <= 0) life = duration;
  return std::max(life, 0.01);
}

// Picks the best evidence present, in the order of the issue: PMU samples, PMU counters,
// NUMA-balancing hint faults (sampled addresses, then per-task sched counters), placement.
Evidence choose_evidence(const Recording& r) {
  const MachineInfo& m = r.machine;
  Evidence e;
  // 1. Precise PMU samples.
  {
    double local_weight = 0, local_n = 0;
    for (const auto& a : r.accesses)
      if (a.source == "pmu" && a.mem_class == "local-dram") local_weight += double(a.weight_sum), local_n += double(a.count);
    bool have_weights = local_n > 0 && local_weight > 0;
    for (const auto& a : r.accesses) {
      if (a.source != "pmu") continue;
      AccessView v{a.tid, a.cpu_node, a.memory_node, a.mapping};
      v.total = double(a.count);
      v.loads = double(a.loads);
      if (a.mem_class == "local-dram") v.local = double(a.count);
      if (a.mem_class == "remote-dram" || a.mem_class == "remote-cache" || a.mem_class == "remote-hitm") {
        v.remote = double(a.count);
        double excess = have_weights && a.count
                            ? std::max(0.0, double(a.weight_sum) / double(a.count) - local_weight / local_n)
                            : slit_excess(m, a.cpu_node, a.memory_node);
        v.cost = v.remote * excess;
      }
      e.rows.push_back(v);
    }
    double classified = 0;
    for (const auto& v : e.rows) classified += v.local + v.remote;
    if (classified > 0) {
      e.source = "pmu-memory-sampling";
      e.confidence = classified >= 100 ? "high" : "low";
      e.cost_unit = have_weights ? "cycles of extra load latency (sample weights)" : "remote accesses x (SLIT distance ratio - 1)";
      e.per_access = true;
      return e;
    }
    e.rows.clear();
  }
  // 2. Counting events (program-wide only).
  if (r.counters.available && r.counters.node_loads + r.counters.node_load_misses > 0) {
    AccessView v;
    v.local = double(r.counters.node_loads);
    v.remote = double(r.counters.node_load_misses);
    v.total = v.local + v.remote;
    v.cost = v.remote * slit_excess(m, -1, -1);
    e.rows.push_back(v);
    e.source = "pmu-node-counters";
    e.confidence = "high";
    e.cost_unit = "remote accesses x (SLIT distance ratio - 1)";
    return e;
  }
  // 3a. Hint faults sampled with their addresses.
  for (const auto& a : r.accesses) {
    if (a.source != "hint-fault" || a.cpu_node < 0 || a.memory_node < 0) continue;
    AccessView v{a.tid, a.cpu_node, a.memory_node, a.mapping};
    v.total = double(a.count);
    (a.cpu_node == a.memory_node ? v.local : v.remote) = double(a.count);
    v.cost = v.remote * slit_excess(m, a.cpu_node, a.memory_node);
    e.rows.push_back(v);
  }
  if (!e.rows.empty()) {
    double n = 0;
    for (const auto& v : e.rows) n += v.total;
    e.source = "numa-hint-faults";
    e.confidence = n >= 100 ? "medium" : "low";
    e.cost_unit = "remote accesses x (SLIT distance ratio - 1)";
    e.per_access = true;
    return e;
  }
  // 3b. Per-task NUMA fault counters from /proc/PID/task/TID/sched.
  for (const auto& t : r.threads) {
    int home = home_node(t);
    if (home < 0) continue;
    for (const auto& f : t.numa_faults) {
      int mem = m.node_index(f.node);
      double n = double(f.task_private + f.task_shared);
      if (mem < 0 || n <= 0) continue;
      AccessView v{t.tid, home, mem, 0};
      v.total = n;
      (mem == home ? v.local : v.remote) = n;
      v.cost = v.remote * slit_excess(m, home, mem);
      e.rows.push_back(v);
    }
  }
  if (!e.rows.empty()) {
    e.source = "task-numa-faults";
    e.confidence = "medium";
    e.cost_unit = "remote accesses x (SLIT distance ratio - 1)";
    return e;
  }
  // 4. Placement: where the threads ran x where the pages are, assuming uniform access.
  std::map<int, double> pages;
  double total_pages = 0;
  for (const auto& mp : r.mappings)
    for (const auto& [node, n] : mp.pages_by_node) pages[node] += double(n), total_pages += double(n);
  if (total_pages > 0) {
    for (const auto& t : r.threads) {
      double polls = 0;
      for (const auto& [node, n] : t.residency) polls += double(n);
      if (polls <= 0) continue;
      for (const auto& [cpu_node, n] : t.residency)
        for (const auto& [mem_node, p] : pages) {
          AccessView v{t.tid, cpu_node, mem_node, 0};
          double share = (double(n) / polls) * (p / total_pages);
          v.total = share;
          (cpu_node == mem_node ? v.local : v.remote) = share;
          v.cost = v.remote * slit_excess(m, cpu_node, mem_node);
          e.rows.push_back(v);
        }
    }
  }
  if (!e.rows.empty()) {
    e.source = "placement-estimate";
    e.confidence = "low";
    e.cost_unit = "share of thread time x (SLIT distance ratio - 1)";
  }
  return e;
}

json nodes_object(const std::map<int, double>& by_node, int digits = 0) {
  json o = json::object();
  for (const auto& [node, v] : by_node) o[std::to_string(node)] = digits ? rounded(v, digits) : std::round(v);
  return o;
}

json rule_ref(const RuleDefinition& rule) {
  return {{"id", rule.id}, {"condition", rule.condition}, {"threshold", rule.threshold}, {"source", rule.source}};
}

struct Candidate {
  RecommendationKind kind;
  std::string title, evidence, command;
  double cost = 0;
  bool rank_last = false;   // use-agent: its gain is an upper bound, specific fixes go first
  json extra = json::object();
};

std::string mapping_label(const MappingRecord* m, std::uint64_t start) {
  if (!m) return "mapping at " + hex(start);
  std::string name = m->name.empty() ? "anonymous" : m->name;
  double mib = double(m->end - m->start) / (1024.0 * 1024.0);
  char buf[64];
  std::snprintf(buf, sizeof buf, " (%.1f MiB at %s)", mib, hex(m->start).c_str());
  return name + buf;
}

}  // namespace

namespace {
// A field of a document we did not write (the agent's profile inside a recording): its default
// when missing or of another type, where json::value would throw.
template <typename T>
T field_or(const json& object, const char* key, T fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return it->is_number_integer() ? it->template get<T>() : fallback;
  } else {
    return it->is_string() ? it->template get<T>() : fallback;
  }
}
}  // namespace

json build_report(const Recording& r, const ReportOptions& options) {
  const MachineInfo& m = r.machine;
  const int node_count = static_cast<int>(m.nodes.size());
  const bool one_node = node_count < 2;
  const std::string program = shell_join(r.command);

  json report;
  report["schema"] = kReportSchema;

  // ---- machine ----
  {
    json nodes = json::array();
    for (std::size_t i = 0; i < m.nodes.size(); ++i) {
      std::string cpus;
      // Render the CPU list compactly ("0-3,8").
      const auto& c = m.nodes[i].cpus;
      for (std::size_t k = 0; k < c.size();) {
        std::size_t j = k;
        while (j + 1 < c.size() && c[j + 1] == c[j] + 1) ++j;
        if (!cpus.empty()) cpus += ',';
        cpus += std::to_string(c[k]) + (j > k ? "-" + std::to_string(c[j]) : "");
        k = j + 1;
      }
      nodes.push_back({{"node", i}, {"os_index", m.nodes[i].os_index}, {"cpus", cpus},
                       {"memory_bytes", m.nodes[i].memory_bytes}});
    }
    report["machine"] = {{"nodes", nodes},
                         {"distances", m.distances},
                         {"numa_balancing", m.numa_balancing < 0 ? json(nullptr) : json(m.numa_balancing != 0)},
                         {"perf_event_paranoid", m.perf_event_paranoid == -99 ? json(nullptr) : json(m.perf_event_paranoid)},
                         {"kernel", m.kernel}};
  }

  // ---- evidence ----
  Evidence ev = one_node ? Evidence{} : choose_evidence(r);
  {
    json sources = json::array();
    for (const auto& p : r.evidence)
      sources.push_back({{"source", p.source}, {"used", p.used}, {"detail", p.detail},
                         {"errno", p.error ? json(p.error) : json(nullptr)},
                         {"errno_name", p.error ? json(p.error_name) : json(nullptr)}});
    std::string locality_source = one_node ? "none: one NUMA node, every access is local"
                                  : ev.source.empty() ? "none: no access or placement evidence was recorded"
                                                      : ev.source;
    report["evidence"] = {
        {"recording",
         {{"mode", r.mode}, {"command", r.command}, {"pid", r.pid}, {"duration_s", rounded(r.duration_s, 3)},
          {"stop_reason", r.stop_reason}, {"exit_code", r.exit_code < 0 ? json(nullptr) : json(r.exit_code)},
          {"exit_signal", r.exit_signal ? json(r.exit_signal) : json(nullptr)}, {"agent", r.agent},
          {"tool_version", r.tool_version}}},
        {"sources", sources},
        {"locality_source", locality_source},
        {"confidence", ev.confidence.empty() ? json(nullptr) : json(ev.confidence)},
        {"cost_unit", ev.cost_unit.empty() ? json(nullptr) : json(ev.cost_unit)},
        {"samples",
         {{"page_faults", r.fault_samples}, {"cpu_migrations", r.migration_samples}, {"pmu", r.pmu_samples},
          {"lost_records", r.lost_records}, {"unresolved_pages", r.unresolved_pages}}},
        {"vmstat_delta", r.vmstat_delta}};
    if (m.numa_balancing == 1 && !one_node)
      report["evidence"]["notes"].push_back(
          "NUMA balancing is on: the kernel migrates pages towards their users while we measure, so placement "
          "improves during the run and hint faults are a sampled access signal");
    else if (m.numa_balancing == 0 && !one_node)
      report["evidence"]["notes"].push_back(
          "NUMA balancing is off: pages stay where they were first touched; no hint faults are sampled");
    if (!report["evidence"].contains("notes")) report["evidence"]["notes"] = json::array();
  }

  // ---- aggregate ----
  Tally program_tally;
  std::map<int, Tally> by_thread;
  std::map<std::uint64_t, Tally> by_mapping;
  std::map<std::uint64_t, std::map<int, double>> mapping_from_node, mapping_to_node;
  std::map<int, double> traffic_to_node;
  for (const auto& v : ev.rows) {
    program_tally.add(v);
    by_thread[v.tid].add(v);
    if (v.memory_node >= 0) traffic_to_node[v.memory_node] += v.total;
    if (ev.per_access) {
      by_mapping[v.mapping].add(v);
      if (v.cpu_node >= 0) mapping_from_node[v.mapping][v.cpu_node] += v.local + v.remote;
      if (v.memory_node >= 0) mapping_to_node[v.mapping][v.memory_node] += v.local + v.remote;
    }
  }

  // ---- components and score ----
  std::optional<double> locality = program_tally.locality();
  std::optional<double> stability, balance;
  double migrations = 0, thread_seconds = 0;
  std::set<int> thread_nodes;
  for (const auto& t : r.threads) {
    migrations += double(t.node_migrations);
    thread_seconds += lifetime_s(t, r.duration_s);
    for (const auto& [node, n] : t.residency)
      if (n > 0) thread_nodes.insert(node);
  }
  double migration_rate = thread_seconds > 0 ? migrations / thread_seconds : 0;
  std::optional<double> cv;
  std::string balance_basis;
  if (!one_node) {
    if (!r.threads.empty()) stability = stability_from_rate(migration_rate);
    if (thread_nodes.size() >= 2) {
      std::vector<double> per_node(static_cast<std::size_t>(node_count), 0.0);
      for (const auto& [node, v] : traffic_to_node) per_node[static_cast<std::size_t>(node)] += v;
      balance_basis = "traffic";
      if (traffic_to_node.empty()) {
        balance_basis = "pages";
        for (const auto& mp : r.mappings)
          for (const auto& [node, n] : mp.pages_by_node) per_node[static_cast<std::size_t>(node)] += double(n);
      }
      cv = coefficient_of_variation(per_node);
      if (cv) balance = balance_from_cv(*cv, node_count);
    }
  }
  std::optional<double> score;
  std::string score_note;
  if (one_node) {
    locality.reset();
    score_note = "nothing to measure: the machine has one NUMA node, so every access is local";
  } else if (!locality) {
    score_note = "no locality evidence was recorded (see evidence.sources)";
  } else {
    double sum = kWeightLocality * *locality, weights = kWeightLocality;
    if (stability) sum += kWeightStability * *stability, weights += kWeightStability;
    if (balance) sum += kWeightBalance * *balance, weights += kWeightBalance;
    score = 100.0 * sum / weights;
  }
  report["score"] = score ? json(std::round(*score * 10) / 10) : json(nullptr);
  report["components"] = {
      {"locality", optional_json(locality)},
      {"remote_share", optional_json(locality ? std::optional<double>(1.0 - *locality) : std::nullopt)},
      {"stability", optional_json(stability)},
      {"balance", optional_json(balance)},
      {"score_note", score_note.empty() ? json(nullptr) : json(score_note)},
      {"details",
       {{"locality",
         {{"metric", metric("locality").formula}, {"source", ev.source.empty() ? json(nullptr) : json(ev.source)},
          {"confidence", ev.confidence.empty() ? json(nullptr) : json(ev.confidence)},
          {"local", rounded(program_tally.local, 2)}, {"remote", rounded(program_tally.remote, 2)}}},
        {"stability",
         {{"metric", metric("stability").formula}, {"source", "thread-residency"},
          {"cross_node_migrations", migrations}, {"thread_seconds", rounded(thread_seconds, 3)},
          {"migrations_per_thread_second", rounded(migration_rate, 4)}}},
        {"balance",
         {{"metric", metric("balance").formula}, {"basis", balance_basis.empty() ? json(nullptr) : json(balance_basis)},
          {"cv", optional_json(cv)}, {"nodes_with_threads", thread_nodes.size()}}},
        {"score", {{"metric", metric("score").formula},
                   {"weights", {{"locality", kWeightLocality}, {"stability", kWeightStability}, {"balance", kWeightBalance}}}}}}}};

  // ---- per node: what each node holds, serves and issues ----
  {
    json per_node = json::array();
    for (int n = 0; n < node_count; ++n) {
      double pages = 0, bytes = 0, served = 0, issued = 0;
      int homes = 0;
      for (const auto& mp : r.mappings)
        if (auto it = mp.pages_by_node.find(n); it != mp.pages_by_node.end()) {
          pages += double(it->second);
          bytes += double(it->second) * double(mp.page_kb) * 1024;   // huge-page mappings count their size
        }
      for (const auto& v : ev.rows) {
        if (v.memory_node == n) served += v.local + v.remote;
        if (v.cpu_node == n) issued += v.local + v.remote;
      }
      for (const auto& t : r.threads) homes += home_node(t) == n;
      per_node.push_back({{"node", n}, {"resident_pages", std::uint64_t(pages)},
                          {"resident_bytes", std::uint64_t(bytes)}, {"accesses_served", rounded(served, 2)},
                          {"accesses_issued", rounded(issued, 2)}, {"threads", homes}});
    }
    report["components"]["nodes"] = per_node;
  }

  // ---- threads ----
  std::map<int, const json*> agent_threads;
  if (r.agent_profile.is_object() && r.agent_profile.contains("threads") && r.agent_profile["threads"].is_array())
    for (const auto& t : r.agent_profile["threads"])
      if (t.is_object() && t.contains("tid") && t["tid"].is_number_integer()) agent_threads[t["tid"].get<int>()] = &t;
  json threads = json::array();
  for (const auto& t : r.threads) {
    double polls = 0;
    for (const auto& [node, n] : t.residency) polls += double(n);
    std::map<int, double> share;
    for (const auto& [node, n] : t.residency) share[node] = polls > 0 ? double(n) / polls : 0;
    double life = lifetime_s(t, r.duration_s);
    auto it = by_thread.find(t.tid);
    std::optional<double> loc = (!one_node && it != by_thread.end()) ? it->second.locality() : std::nullopt;
    double rate = double(t.node_migrations) / life;
    std::optional<double> tscore;
    if (loc) {
      double sum = kWeightLocality * *loc + kWeightStability * stability_from_rate(rate);
      tscore = 100.0 * sum / (kWeightLocality + kWeightStability);
    }
    json faults = json::object();
    for (const auto& f : t.numa_faults) faults[std::to_string(f.node)] = f.task_private + f.task_shared;
    json entry = {{"tid", t.tid},
                  {"name", t.name},
                  {"lifetime_s", rounded(life, 3)},
                  {"home_node", home_node(t) < 0 ? json(nullptr) : json(home_node(t))},
                  {"residency", nodes_object(share, 3)},
                  {"cpu_migrations", t.cpu_migrations},
                  {"node_migrations", t.node_migrations},
                  {"node_migrations_per_s", rounded(rate, 3)},
                  {"numa_faults_by_memory_node", faults},
                  {"accesses",
                   {{"local", it != by_thread.end() ? rounded(it->second.local, 2) : 0.0},
                    {"remote", it != by_thread.end() ? rounded(it->second.remote, 2) : 0.0},
                    {"source", ev.source.empty() ? json(nullptr) : json(ev.source)}}},
                  {"locality", optional_json(loc)},
                  {"score", tscore ? json(std::round(*tscore * 10) / 10) : json(nullptr)}};
    if (auto a = agent_threads.find(t.tid); a != agent_threads.end()) {
      const json& at = *a->second;
      entry["agent"] = {{"pinned", field_or(at, "pinned", false)}, {"cpus", field_or(at, "cpus", std::string())},
                        {"node", field_or(at, "node", -1)}, {"reason", field_or(at, "reason", std::string())}};
    }
    threads.push_back(entry);
  }
  report["threads"] = threads;

  // ---- mappings ----
  std::map<std::uint64_t, const MappingRecord*> mapping_by_start;
  for (const auto& mp : r.mappings) mapping_by_start[mp.start] = &mp;
  std::map<std::uint64_t, std::map<int, double>> first_touch_from;
  std::map<std::uint64_t, std::map<std::string, double>> first_touch_sites;
  for (const auto& f : r.first_touch) {
    if (f.cpu_node >= 0) first_touch_from[f.mapping][f.cpu_node] += double(f.pages);
    first_touch_sites[f.mapping][f.site] += double(f.pages);
  }
  struct MappingRow {
    std::uint64_t start;
    const MappingRecord* record;
    double pages;
    Tally tally;
  };
  std::vector<MappingRow> rows;
  std::set<std::uint64_t> starts;
  for (const auto& [start, tally] : by_mapping) starts.insert(start);
  {
    std::vector<const MappingRecord*> by_pages;
    for (const auto& mp : r.mappings) by_pages.push_back(&mp);
    std::sort(by_pages.begin(), by_pages.end(), [](auto* a, auto* b) {
      std::uint64_t pa = 0, pb = 0;
      for (auto& [n, p] : a->pages_by_node) pa += p;
      for (auto& [n, p] : b->pages_by_node) pb += p;
      return pa > pb;
    });
    for (std::size_t i = 0; i < by_pages.size() && i < 20; ++i) starts.insert(by_pages[i]->start);
  }
  for (std::uint64_t start : starts) {
    const MappingRecord* rec = mapping_by_start.count(start) ? mapping_by_start[start] : nullptr;
    double pages = 0;
    if (rec)
      for (auto& [n, p] : rec->pages_by_node) pages += double(p);
    if (!rec && start != 0 && !by_mapping.count(start)) continue;
    rows.push_back({start, rec, pages, by_mapping.count(start) ? by_mapping[start] : Tally{}});
  }
  std::sort(rows.begin(), rows.end(), [](const MappingRow& a, const MappingRow& b) {
    if (a.tally.cost != b.tally.cost) return a.tally.cost > b.tally.cost;
    if (a.tally.total != b.tally.total) return a.tally.total > b.tally.total;
    return a.pages > b.pages;
  });
  json mappings = json::array();
  for (const auto& row : rows) {
    std::map<int, double> pages_by_node;
    if (row.record)
      for (auto& [n, p] : row.record->pages_by_node) pages_by_node[n] = double(p);
    std::optional<double> loc = one_node ? std::nullopt : row.tally.locality();
    std::optional<double> traffic_cv;
    if (mapping_to_node.count(row.start)) {
      std::vector<double> per_node(static_cast<std::size_t>(node_count), 0.0);
      for (auto& [n, v] : mapping_to_node[row.start]) per_node[static_cast<std::size_t>(n)] = v;
      traffic_cv = coefficient_of_variation(per_node);
    }
    mappings.push_back(
        {{"start", hex(row.start)},
         {"end", row.record ? json(hex(row.record->end)) : json(nullptr)},
         {"name", row.record ? (row.record->name.empty() ? "[anon]" : row.record->name)
                             : (row.start ? "[unmapped]" : "[unknown]")},
         {"policy", row.record ? json(row.record->policy) : json(nullptr)},
         {"bytes", row.record ? json(row.record->end - row.record->start) : json(nullptr)},
         {"pages_by_node", nodes_object(pages_by_node)},
         {"accesses",
          {{"local", rounded(row.tally.local, 2)}, {"remote", rounded(row.tally.remote, 2)},
           {"from_node", nodes_object(mapping_from_node[row.start], 2)},
           {"to_node", nodes_object(mapping_to_node[row.start], 2)}}},
         {"first_touch_from_node", nodes_object(first_touch_from[row.start])},
         {"traffic_cv", optional_json(traffic_cv)},
         {"locality", optional_json(loc)},
         {"cost", rounded(row.tally.cost, 2)},
         {"score", loc ? json(std::round(*loc * 1000) / 10) : json(nullptr)}});
  }
  report["mappings"] = mappings;

  // ---- sites (code that first-touched pages; allocation sites from the agent when present) ----
  {
    std::map<std::string, std::map<int, double>> site_nodes;
    std::map<std::string, std::map<int, double>> site_memory;
    std::map<std::string, std::uint64_t> site_mapping;
    for (const auto& f : r.first_touch) {
      if (f.cpu_node >= 0) site_nodes[f.site][f.cpu_node] += double(f.pages);
      if (f.memory_node >= 0) site_memory[f.site][f.memory_node] += double(f.pages);
      site_mapping[f.site] = f.mapping;
    }
    std::vector<std::pair<std::string, double>> order;
    for (auto& [site, nodes] : site_nodes) {
      double n = 0;
      for (auto& [k, v] : nodes) n += v;
      order.emplace_back(site, n);
    }
    std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.second > b.second; });
    json sites = json::array();
    for (std::size_t i = 0; i < order.size() && i < 50; ++i) {
      const auto& site = order[i].first;
      sites.push_back({{"site", site}, {"kind", "first-touch"}, {"pages", static_cast<std::uint64_t>(order[i].second)},
                       {"touched_from_node", nodes_object(site_nodes[site])},
                       {"placed_on_node", nodes_object(site_memory[site])},
                       {"mapping", hex(site_mapping[site])}});
    }
    if (r.agent_profile.is_object() && r.agent_profile.contains("pools") && r.agent_profile["pools"].is_object() &&
        r.agent_profile["pools"].contains("sites") && r.agent_profile["pools"]["sites"].is_array())
      for (const auto& s : r.agent_profile["pools"]["sites"]) {
        if (!s.is_object()) continue;   // the profile is the program's file: take what is well formed
        json entry = s;
        entry["kind"] = "allocation";
        sites.push_back(entry);
      }
    report["sites"] = sites;
  }

  // ---- recommendations ----
  std::vector<Candidate> candidates;
  const bool well_placed = locality && *locality >= kWellPlacedLocality;
  if (!one_node && locality && !well_placed) {
    // Per mapping (needs per-access evidence).
    for (const auto& row : rows) {
      auto loc = row.tally.locality();
      if (!loc || row.tally.remote <= 0) continue;
      const auto& from = mapping_from_node[row.start];
      const auto& to = mapping_to_node[row.start];
      double accesses = row.tally.local + row.tally.remote;
      int main_user = -1;
      double main_share = 0;
      int users = 0;
      for (auto& [n, v] : from) {
        if (v / accesses >= 0.10) ++users;
        if (v / accesses > main_share) main_share = v / accesses, main_user = n;
      }
      std::string label = mapping_label(row.record, row.start);
      std::string policy = row.record ? row.record->policy : "";
      std::vector<double> per_node(static_cast<std::size_t>(node_count), 0.0);
      for (auto& [n, v] : to) per_node[static_cast<std::size_t>(n)] = v;
      auto tcv = coefficient_of_variation(per_node);
      const auto& colocate_rule = rule(RecommendationKind::Colocate);
      const auto& interleave_rule = rule(RecommendationKind::Interleave);
      if (*loc >= colocate_rule.threshold) continue;
      if (users >= 2 && tcv && *tcv > interleave_rule.threshold) {
        double load_share = row.tally.total > 0 ? row.tally.loads / row.tally.total : 0;
        bool replicate = ev.source == "pmu-memory-sampling" && load_share >= rule(RecommendationKind::Replicate).threshold;
        Candidate c{replicate ? RecommendationKind::Replicate : RecommendationKind::Interleave};
        c.title = (replicate ? "Replicate read-mostly " : "Interleave ") + label + " across nodes";
        c.evidence = "accessed from " + std::to_string(users) + " nodes, locality " + percent(*loc) +
                     ", per-node traffic CV " + std::to_string(rounded(*tcv, 2)).substr(0, 4) +
                     (replicate ? ", " + percent(load_share) + " loads" : "") + " (" + ev.source + ")";
        c.command = replicate ? "allocate one copy per node (numa_alloc_onnode) and have each thread read its node's copy"
                              : "numactl --interleave=all -- " + program;
        c.cost = row.tally.cost;
        c.extra["mapping"] = hex(row.start);
        candidates.push_back(c);
        continue;
      }
      if (main_share >= 0.80) {
        // Who first touched it? Pages placed by a thread on another node: fix the initialisation.
        double ft_total = 0, ft_main = 0;
        int ft_node = -1;
        for (auto& [n, v] : first_touch_from[row.start]) {
          ft_total += v;
          if (v > ft_main) ft_main = v, ft_node = n;
        }
        const auto& ft_rule = rule(RecommendationKind::FirstTouch);
        int page_node = -1;
        double page_most = 0;
        for (auto& [n, v] : to)
          if (v > page_most) page_most = v, page_node = n;
        bool policy_pins = policy.starts_with("bind") || policy.starts_with("prefer");
        if (ft_total > 0 && ft_node != main_user && ft_main / ft_total >= ft_rule.threshold && !policy_pins) {
          std::string site;
          double site_pages = 0;
          for (auto& [s, v] : first_touch_sites[row.start])
            if (v > site_pages) site_pages = v, site = s;
          Candidate c{RecommendationKind::FirstTouch};
          c.title = "Initialise " + label + " on node " + std::to_string(main_user) + ", where it is used";
          c.evidence = percent(ft_main / ft_total) + " of its pages were first touched from node " +
                       std::to_string(ft_node) + " (site " + site + ") but " + percent(main_share) +
                       " of its accesses come from node " + std::to_string(main_user) + "; locality " + percent(*loc);
          c.command = "first-touch the data from the threads that use it (change the initialisation at " + site + ")";
          c.cost = row.tally.cost;
          c.extra["mapping"] = hex(row.start);
          c.extra["site"] = site;
          candidates.push_back(c);
        } else {
          Candidate c{RecommendationKind::Colocate};
          c.title = "Move " + label + " to node " + std::to_string(main_user) + ", where its users run";
          c.evidence = percent(main_share) + " of its accesses come from node " + std::to_string(main_user) +
                       " while its pages are mostly on node " + std::to_string(page_node) + " (policy " +
                       (policy.empty() ? "unknown" : policy) + "); locality " + percent(*loc) + " (" + ev.source + ")";
          std::string to_os = std::to_string(m.nodes[static_cast<std::size_t>(main_user)].os_index);
          std::string from_os = page_node >= 0 ? std::to_string(m.nodes[static_cast<std::size_t>(page_node)].os_index) : "all";
          c.command = r.mode == "attach" ? "migratepages " + std::to_string(r.pid) + " " + from_os + " " + to_os
                                         : "numactl --cpunodebind=" + to_os + " --membind=" + to_os + " -- " + program;
          if (policy_pins) c.command += "  (and drop the program's own " + policy + " policy for this mapping)";
          c.cost = row.tally.cost;
          c.extra["mapping"] = hex(row.start);
          candidates.push_back(c);
        }
      }
    }
    // Per thread, when evidence is per-thread only: a thread whose memory is elsewhere.
    if (!ev.per_access) {
      for (const auto& t : r.threads) {
        auto it = by_thread.find(t.tid);
        if (it == by_thread.end()) continue;
        auto loc = it->second.locality();
        if (!loc || *loc >= rule(RecommendationKind::Colocate).threshold) continue;
        Candidate c{RecommendationKind::Colocate};
        c.title = "Run thread " + std::to_string(t.tid) + " (" + t.name + ") next to its memory";
        c.evidence = "locality " + percent(*loc) + " from " + ev.source;
        c.command = "numactl --cpunodebind=N --membind=N -- " + program + "  (N: the node holding its data)";
        c.cost = it->second.cost;
        candidates.push_back(c);
      }
    }
    // Program-wide: run under the agent.
    const auto& agent_rule = rule(RecommendationKind::UseAgent);
    if (!r.agent && *locality < agent_rule.threshold) {
      Candidate c{RecommendationKind::UseAgent};
      c.title = "Run the program under libnumaagent.so (NUMA-spread pinning, node-local small allocations)";
      c.evidence = "program-wide locality " + percent(*locality) + " is below the " + percent(agent_rule.threshold) +
                   " AutoNUMA target (" + ev.source + ")";
      c.command = "LD_PRELOAD=" + options.agent_library + " NUMA_AGENT_PIN=spread " + program;
      c.cost = program_tally.cost;
      c.rank_last = true;
      candidates.push_back(c);
    }
  }
  // Threads hopping between nodes: a placement problem whatever the sampled locality says (the
  // samples of a hopping thread are the least reliable), so R4 is exempt from the 90 % cut-off.
  if (!one_node) {
    const auto& pin_rule = rule(RecommendationKind::PinThreads);
    std::vector<int> migrating;
    double migrating_cost = 0;
    for (const auto& t : r.threads) {
      double rate = double(t.node_migrations) / lifetime_s(t, r.duration_s);
      // Where there is access evidence, a thread that carries almost none of it (a main thread that
      // only waits) is not worth pinning; without any, every hopping thread is reported.
      auto acc = by_thread.find(t.tid);
      const double program_accesses = program_tally.local + program_tally.remote;
      const double thread_accesses = acc != by_thread.end() ? acc->second.local + acc->second.remote : 0;
      const bool carries_accesses = thread_accesses > 0 && thread_accesses >= kPinMinAccessShare * program_accesses;
      if (rate > pin_rule.threshold && (!locality || carries_accesses)) {
        migrating.push_back(t.tid);
        if (auto it = by_thread.find(t.tid); it != by_thread.end()) migrating_cost += it->second.cost;
      }
    }
    if (!migrating.empty()) {
      Candidate c{RecommendationKind::PinThreads};
      c.title = "Pin the " + std::to_string(migrating.size()) + " thread(s) that move between nodes";
      std::string tids;
      for (std::size_t i = 0; i < migrating.size() && i < 8; ++i) tids += (i ? "," : "") + std::to_string(migrating[i]);
      c.evidence = "threads " + tids + (migrating.size() > 8 ? ",..." : "") + " migrate across nodes more than " +
                   std::to_string(pin_rule.threshold).substr(0, 3) + " times per second (program-wide " +
                   std::to_string(rounded(migration_rate, 2)).substr(0, 4) + "/thread-second)";
      c.command = "LD_PRELOAD=" + options.agent_library + " NUMA_AGENT_PIN=spread " + program;
      c.cost = migrating_cost;
      c.extra["tids"] = migrating;
      candidates.push_back(c);
    }
  }
  // By cost; near-equal costs (within 1 %) go to the more specific fix: a thread that migrates
  // makes its memory look shared, so pinning comes before interleaving the same accesses.
  auto priority = [](RecommendationKind k) {
    switch (k) {
      case RecommendationKind::PinThreads: return 0;
      case RecommendationKind::FirstTouch: return 1;
      case RecommendationKind::Colocate: return 2;
      case RecommendationKind::Replicate: return 3;
      case RecommendationKind::Interleave: return 4;
      case RecommendationKind::UseAgent: return 5;
    }
    return 6;
  };
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    if (a.rank_last != b.rank_last) return !a.rank_last;
    if (std::abs(a.cost - b.cost) > 0.01 * std::max(a.cost, b.cost)) return a.cost > b.cost;
    return priority(a.kind) < priority(b.kind);
  });
  json recs = json::array();
  int rank = 0;
  for (const auto& c : candidates) {
    json gain = {{"cost", rounded(c.cost, 2)},
                 {"unit", ev.cost_unit},
                 {"share_of_remote_cost", program_tally.cost > 0 ? rounded(std::min(1.0, c.cost / program_tally.cost), 3) : 0.0},
                 {"upper_bound", c.rank_last}};
    json entry = {{"rank", ++rank},
                  {"kind", kind_name(c.kind)},
                  {"title", c.title},
                  {"evidence", c.evidence},
                  {"command", c.command},
                  {"estimated_gain", gain},
                  {"rule", rule_ref(rule(c.kind))}};
    for (auto& [k, v] : c.extra.items()) entry[k] = v;
    recs.push_back(entry);
  }
  report["recommendations"] = recs;
  if (well_placed)
    report["components"]["recommendation_note"] = "locality " + percent(*locality) +
                                                  " >= 90 %: no memory-placement recommendation (" +
                                                  std::string(kWellPlacedSource) + ")";
  return report;
}

}  // namespace numa_agent::analyzer
