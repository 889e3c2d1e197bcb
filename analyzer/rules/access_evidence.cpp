// See access_evidence.hpp.
#include "analyzer/rules/access_evidence.hpp"

#include <algorithm>

#include "analyzer/model/mem_class.hpp"

namespace numa_agent::analyzer {

namespace {

constexpr const char* kSlitCostUnit = "remote accesses x (SLIT distance ratio - 1)";

// Extra latency of a remote access by SLIT, in local-access units (local distance = 1).
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

double total_of(const std::vector<AccessView>& rows) {
  double n = 0;
  for (const auto& v : rows) n += v.total;
  return n;
}

// 1. Precise PMU samples: local and remote DRAM/cache by data source, cost from latency weights.
std::vector<AccessView> pmu_sample_rows(const Recording& r, bool& have_weights) {
  double local_weight = 0, local_n = 0;
  for (const auto& a : r.accesses)
    if (a.source == "pmu" && parse_mem_class(a.mem_class) == MemClass::LocalDram)
      local_weight += double(a.weight_sum), local_n += double(a.count);
  have_weights = local_n > 0 && local_weight > 0;
  std::vector<AccessView> rows;
  for (const auto& a : r.accesses) {
    if (a.source != "pmu") continue;
    const MemClass mem_class = parse_mem_class(a.mem_class);
    AccessView v{a.tid, a.cpu_node, a.memory_node, a.mapping};
    v.total = double(a.count);
    v.loads = double(a.loads);
    if (mem_class == MemClass::LocalDram) v.local = double(a.count);
    if (is_remote(mem_class)) {
      v.remote = double(a.count);
      double excess = have_weights && a.count
                          ? std::max(0.0, double(a.weight_sum) / double(a.count) - local_weight / local_n)
                          : slit_excess(r.machine, a.cpu_node, a.memory_node);
      v.cost = v.remote * excess;
    }
    rows.push_back(v);
  }
  return rows;
}

// One row of `n` accesses from cpu_node to memory_node, local or remote by the pair.
AccessView node_pair_row(const MachineInfo& m, int tid, int cpu_node, int memory_node, std::uint64_t mapping, double n) {
  AccessView v{tid, cpu_node, memory_node, mapping};
  v.total = n;
  (cpu_node == memory_node ? v.local : v.remote) = n;
  v.cost = v.remote * slit_excess(m, cpu_node, memory_node);
  return v;
}

// 3a. Hint faults sampled with their addresses.
std::vector<AccessView> hint_fault_rows(const Recording& r) {
  std::vector<AccessView> rows;
  for (const auto& a : r.accesses)
    if (a.source == "hint-fault" && a.cpu_node >= 0 && a.memory_node >= 0)
      rows.push_back(node_pair_row(r.machine, a.tid, a.cpu_node, a.memory_node, a.mapping, double(a.count)));
  return rows;
}

// 2b. Watchpoint hits by exposure: hits per probe-ns (prior: one more probe of the longest mean
// window) x the thread's probes x the mapping's resident bytes, scaled to sum to the hits.
std::vector<AccessView> watchpoint_rows(const Recording& r) {
  std::map<std::pair<int, std::uint64_t>, double> window_ns;   // (tid, mapping) -> probe time
  std::map<std::uint64_t, double> probes, bytes;                // by tid; by mapping
  double prior = 0, hits = 0, sum = 0;
  for (const auto& e : r.exposures)
    window_ns[{e.tid, e.mapping}] += double(e.window_ns), probes[e.tid] += double(e.probes),
        prior = std::max(prior, double(e.window_ns) / double(std::max<std::uint64_t>(e.probes, 1)));
  for (const auto& m : r.mappings)
    for (const auto& [node, n] : m.pages_by_node) bytes[m.start] += double(n * m.page_kb * 1024);
  std::vector<AccessView> rows;
  for (const auto& a : r.accesses)
    if (auto w = window_ns.find({a.tid, a.mapping});
        a.source == "watchpoint" && a.cpu_node >= 0 && a.memory_node >= 0 && w != window_ns.end())
      rows.push_back(node_pair_row(r.machine, a.tid, a.cpu_node, a.memory_node, a.mapping,
                                   double(a.count) / (w->second + prior) * probes[a.tid] * bytes[a.mapping])),
          hits += double(a.count), sum += rows.back().total;
  for (auto& v : rows) v.local *= hits / sum, v.remote *= hits / sum, v.total *= hits / sum, v.cost *= hits / sum;
  return std::erase_if(rows, [](const AccessView& v) { return !(v.total > 0); }), rows;
}

// 3b. Per-task NUMA fault counters from /proc/PID/task/TID/sched, issued from the thread's home node.
std::vector<AccessView> task_fault_rows(const Recording& r) {
  std::vector<AccessView> rows;
  for (const auto& t : r.threads) {
    int home = home_node(t);
    if (home < 0) continue;
    for (const auto& f : t.numa_faults) {
      int mem = r.machine.node_index(f.node);
      double n = double(f.task_private + f.task_shared);
      if (mem < 0 || n <= 0) continue;
      rows.push_back(node_pair_row(r.machine, t.tid, home, mem, 0, n));
    }
  }
  return rows;
}

// 4. Placement: where the threads ran x where the pages are, assuming uniform access.
std::vector<AccessView> placement_rows(const Recording& r) {
  std::map<int, double> pages;
  double total_pages = 0;
  for (const auto& mp : r.mappings)
    for (const auto& [node, n] : mp.pages_by_node) pages[node] += double(n), total_pages += double(n);
  std::vector<AccessView> rows;
  if (total_pages <= 0) return rows;
  for (const auto& t : r.threads) {
    double polls = 0;
    for (const auto& [node, n] : t.residency) polls += double(n);
    if (polls <= 0) continue;
    for (const auto& [cpu_node, n] : t.residency)
      for (const auto& [mem_node, p] : pages)
        rows.push_back(node_pair_row(r.machine, t.tid, cpu_node, mem_node, 0, (double(n) / polls) * (p / total_pages)));
  }
  return rows;
}

}  // namespace

AccessEvidence choose_evidence(const Recording& r) {
  bool have_weights = false;
  if (auto rows = pmu_sample_rows(r, have_weights); !rows.empty()) {
    double classified = 0;
    for (const auto& v : rows) classified += v.local + v.remote;
    if (classified > 0)
      return {"pmu-memory-sampling", classified >= 100 ? "high" : "low",
              have_weights ? "cycles of extra load latency (sample weights)" : kSlitCostUnit, std::move(rows), true};
  }
  // 2. Counting events (program-wide only).
  if (r.counters.available && r.counters.node_loads + r.counters.node_load_misses > 0) {
    AccessView v;
    v.local = double(r.counters.node_loads);
    v.remote = double(r.counters.node_load_misses);
    v.total = v.local + v.remote;
    v.cost = v.remote * slit_excess(r.machine, -1, -1);
    return {"pmu-node-counters", "high", kSlitCostUnit, {v}, false};
  }
  if (auto rows = watchpoint_rows(r); !rows.empty())
    return {"watchpoint-sampling", total_of(rows) >= 100 ? "medium" : "low", kSlitCostUnit, std::move(rows), true};
  if (auto rows = hint_fault_rows(r); !rows.empty())
    return {"numa-hint-faults", total_of(rows) >= 100 ? "medium" : "low", kSlitCostUnit, std::move(rows), true};
  if (auto rows = task_fault_rows(r); !rows.empty())
    return {"task-numa-faults", "medium", kSlitCostUnit, std::move(rows), false};
  if (auto rows = placement_rows(r); !rows.empty())
    return {"placement-estimate", "low", "share of thread time x (SLIT distance ratio - 1)", std::move(rows), false};
  return {};
}

void Tally::add(const AccessView& a) {
  local += a.local;
  remote += a.remote;
  loads += a.loads;
  total += a.total;
  cost += a.cost;
}

std::optional<double> Tally::locality() const {
  return local + remote > 0 ? std::optional<double>(local / (local + remote)) : std::nullopt;
}

AccessTallies aggregate_accesses(const AccessEvidence& evidence) {
  AccessTallies t;
  for (const auto& v : evidence.rows) {
    t.program.add(v);
    t.by_thread[v.tid].add(v);
    if (v.memory_node >= 0) t.traffic_to_node[v.memory_node] += v.total;
    if (evidence.per_access) {
      t.by_mapping[v.mapping].add(v);
      if (v.cpu_node >= 0) t.mapping_from_node[v.mapping][v.cpu_node] += v.local + v.remote;
      if (v.memory_node >= 0) t.mapping_to_node[v.mapping][v.memory_node] += v.local + v.remote;
    }
  }
  return t;
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

}  // namespace numa_agent::analyzer
