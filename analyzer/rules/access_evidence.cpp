// See access_evidence.hpp.
#include "analyzer/rules/access_evidence.hpp"

#include <algorithm>
#include <set>

#include "analyzer/model/mem_class.hpp"
#include "analyzer/model/watch_rate.hpp"

namespace numa_agent::analyzer {

namespace {

constexpr const char* kPmu = "pmu-memory-sampling";
constexpr const char* kWatchpoint = "watchpoint-sampling";
constexpr const char* kWatchpointBuckets = "watchpoint";   // AccessBucket/ExposureBucket::source of its hits
constexpr const char* kHintFaults = "numa-hint-faults";
constexpr const char* kCounters = "pmu-node-counters";
constexpr const char* kTaskFaults = "task-numa-faults";
constexpr const char* kFirstTouch = "first-touch";

// Precise PMU samples: local and remote DRAM/cache by data source, cost from latency weights
// (in local-access units: mean remote latency / mean local latency - 1) or SLIT.
std::vector<AccessView> pmu_sample_rows(const Recording& r) {
  double local_weight = 0, local_n = 0;
  for (const auto& a : r.accesses)
    if (a.source == "pmu" && parse_mem_class(a.mem_class) == MemClass::LocalDram)
      local_weight += double(a.weight_sum), local_n += double(a.count);
  const bool have_weights = local_n > 0 && local_weight > 0;
  const double local_latency = have_weights ? local_weight / local_n : 0;
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
                          ? std::max(0.0, double(a.weight_sum) / double(a.count) / local_latency - 1.0)
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

// Watchpoint hits by exposure. A probe's time to hit measures how hot its word is: per (thread,
// memory node, mapping) the hit rate is hits per probe-ns (prior: one more probe of the longest mean
// window, so a few lucky hits do not read as a hot mapping); accesses there ~ that rate x the bytes
// it stands for (the mapping's pages on that node; the whole mapping when the last snapshot has none
// there) x the thread's probes. Rows are scaled so they sum to the hits, the effective sample count.
// On single-node mappings this is the sampler's own estimator (watchpoint_remote_share), validated
// in guests.
std::vector<AccessView> watchpoint_rows(const Recording& r) {
  struct Key {
    int tid, memory_node;
    std::uint64_t mapping;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, double> window_ns;   // probe time
  std::map<int, double> probes;      // by tid
  double prior = 0, hits = 0, sum = 0;
  for (const auto& e : r.exposures) {
    if (e.source != kWatchpointBuckets) continue;
    window_ns[{e.tid, e.memory_node, e.mapping}] += double(e.window_ns), probes[e.tid] += double(e.probes);
    prior = std::max(prior, double(e.window_ns) / double(std::max<std::uint64_t>(e.probes, 1)));
  }
  std::map<std::uint64_t, const MappingRecord*> by_start;
  for (const auto& m : r.mappings) by_start[m.start] = &m;
  auto bytes_of = [&](std::uint64_t mapping, int node) {
    auto m = by_start.find(mapping);
    if (m == by_start.end()) return 0.0;
    double all = 0;
    for (const auto& [n, pages] : m->second->pages_by_node) all += double(pages);
    auto on_node = m->second->pages_by_node.find(node);
    const double pages = on_node != m->second->pages_by_node.end() && on_node->second > 0 ? double(on_node->second) : all;
    return pages * double(m->second->page_kb) * 1024.0;
  };
  std::vector<AccessView> rows;
  for (const auto& a : r.accesses) {
    if (a.source != kWatchpointBuckets || a.cpu_node < 0 || a.memory_node < 0) continue;
    auto w = window_ns.find({a.tid, a.memory_node, a.mapping});
    if (w == window_ns.end()) continue;
    rows.push_back(node_pair_row(r.machine, a.tid, a.cpu_node, a.memory_node, a.mapping,
                                 watched_accesses(double(a.count), w->second, prior, probes[a.tid],
                                                  bytes_of(a.mapping, a.memory_node))));
    hits += double(a.count), sum += rows.back().total;
  }
  const double f = sum > 0 ? hits / sum : 0;
  for (auto& v : rows) v.local *= f, v.remote *= f, v.total *= f, v.cost *= f;
  std::erase_if(rows, [](const AccessView& v) { return !(v.total > 0); });
  return rows;
}

// Hint faults sampled with their addresses.
// Whether the kernel took NUMA hint faults while the program was recorded: /proc/vmstat's count,
// else the setting. Without any, a fault after a page's first touch is no sampled access but a
// first touch again: of memory the program gave back (free's MADV_DONTNEED, munmap) and reused,
// placed where its toucher runs. (A producer's re-faults once read as thousands of local accesses
// at high confidence, and its consumer's remote reads, which fault nothing, as none.)
bool kernel_took_hint_faults(const Recording& r) {
  if (auto it = r.vmstat_delta.find("numa_hint_faults"); it != r.vmstat_delta.end()) return it->second > 0;
  return r.machine.numa_balancing > 0;
}

std::vector<AccessView> hint_fault_rows(const Recording& r) {
  std::vector<AccessView> rows;
  if (!kernel_took_hint_faults(r)) return rows;
  for (const auto& a : r.accesses)
    if (a.source == "hint-fault" && a.cpu_node >= 0 && a.memory_node >= 0)
      rows.push_back(node_pair_row(r.machine, a.tid, a.cpu_node, a.memory_node, a.mapping, double(a.count)));
  return rows;
}

// Per-task NUMA fault counters from /proc/PID/task/TID/sched, issued from the thread's home node.
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

double classified(const std::vector<AccessView>& rows) {
  double n = 0;
  for (const auto& v : rows) n += v.local + v.remote;
  return n;
}

}  // namespace

bool balancing_scans(const std::string& policy) {
  return policy.empty() || policy.starts_with("default") || policy.find("=balancing") != std::string::npos;
}

double slit_excess(const MachineInfo& m, int cpu_node, int memory_node) {
  const auto n = m.distances.size();
  if (cpu_node < 0 || memory_node < 0 || std::size_t(cpu_node) >= n || std::size_t(memory_node) >= n) {
    double sum = 0;
    int count = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n && j < m.distances[i].size(); ++j)
        if (i != j && i < m.distances[i].size() && m.distances[i][i] > 0)
          sum += double(m.distances[i][j]) / m.distances[i][i] - 1.0, ++count;
    return count ? sum / count : 1.0;
  }
  const auto& row = m.distances[std::size_t(cpu_node)];
  if (row.size() <= std::size_t(std::max(cpu_node, memory_node))) return 1.0;
  double local = row[std::size_t(cpu_node)];
  return local > 0 ? std::max(0.0, row[std::size_t(memory_node)] / local - 1.0) : 1.0;
}

AccessEvidence gather_evidence(const Recording& r) {
  AccessEvidence ev;
  ev.cost_unit = "remote accesses x (remote / local latency - 1)";
  const auto pmu = pmu_sample_rows(r);
  const auto watch = watchpoint_rows(r);
  const auto hints = hint_fault_rows(r);
  // Per mapping: precise samples (PMU, watchpoints: every kind of data access) where there are any;
  // otherwise hint faults, which see a page's first access after each scan, and only on memory
  // that balancing scans.
  // A mapping goes to PMU samples when it has any; watchpoint hits take it from hint faults only
  // when they are at least as many (a few dozen hits do not outweigh thousands of faults).
  std::map<std::uint64_t, double> pmu_n, watch_n, hint_n, precise;
  for (const auto& v : pmu) pmu_n[v.mapping] += v.local + v.remote;
  for (const auto& v : watch) watch_n[v.mapping] += v.local + v.remote;
  for (const auto& v : hints) hint_n[v.mapping] += v.local + v.remote;
  for (const auto& [m, n] : pmu_n) precise[m] += n;
  for (const auto& [m, n] : watch_n)
    if (pmu_n[m] > 0 || n >= hint_n[m]) precise[m] += n;
  std::map<std::string, double> used;
  auto take = [&](const std::vector<AccessView>& rows, const char* source, bool is_precise) {
    for (const auto& v : rows) {
      auto p = precise.find(v.mapping);
      const bool has_precise = p != precise.end() && p->second > 0;
      if (is_precise != has_precise || v.local + v.remote <= 0) continue;
      ev.rows.push_back(v);
      used[source] += v.local + v.remote;
      std::string& named = ev.mapping_source[v.mapping];
      if (named.empty()) named = source;
      else if (named.find(source) == std::string::npos) named += std::string("+") + source;
    }
  };
  take(pmu, kPmu, true);
  take(watch, kWatchpoint, true);
  take(hints, kHintFaults, false);
  ev.per_access = !ev.rows.empty();

  // Without a mapping: the PMU's node counters (every DRAM load of the program), else the
  // per-task sched counters (hint faults on scanned memory, per thread).
  if (r.counters.available && r.counters.node_loads + r.counters.node_load_misses > 0) {
    AccessView v;
    v.local = double(r.counters.node_loads);
    v.remote = double(r.counters.node_load_misses);
    v.total = v.local + v.remote;
    v.cost = v.remote * slit_excess(r.machine, -1, -1);
    ev.program_rows = {v};
    ev.program_source = kCounters;
  } else if (auto rows = task_fault_rows(r); !rows.empty()) {
    ev.program_rows = std::move(rows);
    ev.program_source = kTaskFaults;
  }

  double first_touches = 0;
  for (const auto& f : r.first_touch) first_touches += double(f.pages);
  const double task_faults = classified(task_fault_rows(r));
  const double counters = r.counters.available ? double(r.counters.node_loads + r.counters.node_load_misses) : 0;
  ev.sources = {
      {kPmu, classified(pmu), used[kPmu], "every data access of the sampled kinds, per page"},
      {kWatchpoint, classified(watch), used[kWatchpoint], "accesses to probed words, rates per probe-ns of their windows"},
      {kHintFaults, classified(hints), used[kHintFaults],
       "the first access to each page after a NUMA scan; not memory balancing skips (plain bind, prefer, interleave)"},
      {kCounters, counters, ev.program_source == kCounters ? counters : 0,
       "every DRAM load of the program, without addresses"},
      {kTaskFaults, task_faults, ev.program_source == kTaskFaults ? task_faults : 0,
       "per-thread hint-fault counts by memory node, without addresses"},
      {kFirstTouch, first_touches, 0,
       "where each page was placed and by whom; local by construction under the default policy, so not an access share"},
  };
  // Named after the source with the most samples in use.
  double best = 0;
  for (const auto& s : ev.sources)
    if (s.used > best) best = s.used, ev.source = s.source;
  return ev;
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
    t.by_mapping[v.mapping].add(v);
    if (v.cpu_node >= 0) t.mapping_from_node[v.mapping][v.cpu_node] += v.local + v.remote;
    if (v.memory_node >= 0) t.mapping_to_node[v.mapping][v.memory_node] += v.local + v.remote;
  }
  // Threads (and a program) without mapping rows take the program-wide rows.
  const std::set<int> with_rows = [&] {
    std::set<int> s;
    for (const auto& [tid, tally] : t.by_thread) s.insert(tid);
    return s;
  }();
  const bool program_empty = evidence.rows.empty();
  for (const auto& v : evidence.program_rows) {
    if (program_empty) {
      t.program.add(v);
      if (v.memory_node >= 0) t.traffic_to_node[v.memory_node] += v.total;
    }
    if (!with_rows.count(v.tid) && v.tid != 0) t.by_thread[v.tid].add(v);
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
