// See fusion.hpp.
#include "analyzer/rules/fusion.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "analyzer/rules/rules.hpp"

namespace numa_agent::analyzer {

namespace {

double resident_bytes(const MappingRecord& m) {
  double pages = 0;
  for (const auto& [n, p] : m.pages_by_node) pages += double(p);
  return pages * double(m.page_kb) * 1024.0;
}

// Mean extra latency of a remote access on this machine (SLIT), for memory no sample priced.
double machine_excess(const MachineInfo& m) { return slit_excess(m, -1, -1); }

// Share of each node in the threads' time (residency polls, every thread counted alike).
std::map<int, double> thread_node_shares(const Recording& r) {
  std::map<int, double> shares;
  double threads = 0;
  for (const auto& t : r.threads) {
    double polls = 0;
    for (const auto& [n, k] : t.residency) polls += double(k);
    if (polls <= 0) continue;
    threads += 1;
    for (const auto& [n, k] : t.residency) shares[n] += double(k) / polls;
  }
  for (auto& [n, v] : shares) v /= threads;
  return shares;
}

// Placement x residency for one set of pages: the remote share if the threads touched them in
// proportion to bytes and time (value), and what any sharing pattern allows (bounds): every page
// used only from its own node where threads ran there (low), or only from another node (high).
ShareInterval placement_share(const std::map<int, std::uint64_t>& pages, const std::map<int, double>& thread_nodes) {
  double total = 0;
  for (const auto& [n, p] : pages) total += double(p);
  ShareInterval s{0, 0, 0};
  if (total <= 0 || thread_nodes.empty()) return {0.5, 0, 1};
  double local = 0;
  for (const auto& [n, p] : pages) {
    const double q = double(p) / total;
    auto own = thread_nodes.find(n);
    local += q * (own != thread_nodes.end() ? own->second : 0);
    const bool threads_here = own != thread_nodes.end() && own->second > 0;
    bool threads_elsewhere = false;
    for (const auto& [k, share] : thread_nodes) threads_elsewhere |= k != n && share > 0;
    if (!threads_here) s.low += q;
    if (threads_elsewhere) s.high += q;
  }
  s.value = std::clamp(1.0 - local, s.low, s.high);
  return s;
}

// `bias`: how far the point may sit below the truth (migrated hint-fault pages): beyond the
// known-answer tolerance the point is no measurement to trust, whatever the interval's width.
std::string confidence_of(const ShareInterval& s, double coverage, bool known, double bias) {
  const double width = s.high - s.low;
  if (bias > kMaxPointBias) return "low";
  if (known && coverage >= kHighConfidenceCoverage && width <= kHighConfidenceWidth) return "high";
  if (known && width <= kMediumConfidenceWidth) return "medium";
  return "low";
}

// Pages a policy binds to one node (numa_maps "bind:1", "bind=balancing:1") stay there: NUMA
// balancing migrates none of them, so the migrated share biases nothing measured on them.
// Measured in a 4-node guest: all-local's four bound arrays read 0.0 % [0.0-5.3 %] "low" only
// because the system's few migrated pages were charged to them.
bool balancing_may_migrate(const MappingRecord* m) { return !m || !single_bound_node(m->policy); }

}  // namespace

// Share of the NUMA hint faults (system-wide, /proc/vmstat) that migrated their page. A hint
// fault's memory node is read after that migration (move_pages later, sched's numa_faults with
// the new node), so each migrated page was a remote access recorded as local: fault-based shares
// may be low by up to this much.
double migrated_fault_share(const Recording& r) {
  auto faults = r.vmstat_delta.find("numa_hint_faults");
  auto pages = r.vmstat_delta.find("numa_pages_migrated");
  if (faults == r.vmstat_delta.end() || pages == r.vmstat_delta.end() || faults->second == 0) return 0;
  return std::min(1.0, double(pages->second) / double(faults->second));
}

ShareInterval wilson_interval(double remote, double n) {
  if (n <= 0) return {0.5, 0, 1};
  const double z = 1.959964, p = std::clamp(remote / n, 0.0, 1.0);
  const double denom = 1 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  return {p, std::clamp(centre - half, 0.0, p), std::clamp(centre + half, p, 1.0)};
}

std::string_view basis_name(MappingBasis basis) {
  switch (basis) {
    case MappingBasis::Sampled: return "sampled";
    case MappingBasis::ProgramWide: return "program-wide";
    case MappingBasis::Placement: return "placement-estimate";
    case MappingBasis::NotCounted: return "not-counted";
  }
  return "?";
}

bool file_backed(const MappingRecord& m) { return !m.name.empty() && m.name[0] != '['; }

FusedEstimate fuse_evidence(const Recording& r, const AccessEvidence& ev, const AccessTallies& tallies) {
  FusedEstimate f;
  if (r.machine.nodes.size() < 2) return f;
  const double default_excess = machine_excess(r.machine);
  const auto thread_nodes = thread_node_shares(r);

  // Program-wide evidence and what it can see: node counters every DRAM load; task NUMA faults the
  // memory NUMA balancing scans, and only when no hint fault was sampled with its address: they are
  // the same faults without addresses, so where sampled faults missed a mapping, the task counts
  // (mostly about the mappings that did fault) say nothing about it. Measured in a 2-node guest:
  // the first-touch bug's 64 MiB array had no sampled fault in 3 s, and the task counts, 100 %
  // local, would have stood for it against a true 38 % remote.
  Tally program_wide;
  for (const auto& v : ev.program_rows) program_wide.add(v);
  const double migrated = migrated_fault_share(r);
  auto fault_based = [&](const std::string& source) {
    return source.find("numa-hint-faults") != std::string::npos || source == "task-numa-faults";
  };
  auto program_wide_sees = [&](const MappingRecord& m) {
    if (program_wide.accesses() <= 0) return false;
    if (ev.program_source == "task-numa-faults")
      return ev.rows.empty() && r.machine.numa_balancing != 0 && balancing_scans(m.policy);
    return true;
  };

  // Every mapping: its bytes, and the evidence that decides it.
  std::set<std::uint64_t> recorded;
  for (const auto& m : r.mappings) {
    recorded.insert(m.start);
    MappingEstimate e;
    e.start = m.start;
    e.record = &m;
    e.bytes = resident_bytes(m);
    auto t = tallies.by_mapping.find(m.start);
    if (t != tallies.by_mapping.end() && t->second.accesses() > 0) {
      e.basis = MappingBasis::Sampled;
      e.samples = t->second.accesses();
      e.remote_share = wilson_interval(t->second.remote, e.samples);
      e.excess = t->second.remote > 0 ? t->second.cost / t->second.remote : default_excess;
      auto s = ev.mapping_source.find(m.start);
      e.source = s != ev.mapping_source.end() ? s->second : ev.source;
    } else if (file_backed(m)) {
      e.basis = MappingBasis::NotCounted;
    } else if (program_wide_sees(m)) {
      e.basis = MappingBasis::ProgramWide;
      e.samples = program_wide.accesses();
      e.remote_share = wilson_interval(program_wide.remote, e.samples);
      e.excess = program_wide.remote > 0 ? program_wide.cost / program_wide.remote : default_excess;
      e.source = ev.program_source;
    } else {
      e.basis = MappingBasis::Placement;
      e.remote_share = placement_share(m.pages_by_node, thread_nodes);
      e.excess = default_excess;
      e.source = "placement-estimate";
    }
    f.mappings[m.start] = e;
  }
  // Samples on addresses in no recorded mapping: it went away before the last numa_maps snapshot
  // (a program frees its arrays before it exits). Its bytes: the pages first touched in it.
  std::map<std::uint64_t, double> first_touched;
  for (const auto& ft : r.first_touch) first_touched[ft.mapping] += double(ft.pages) * 4096.0;
  for (const auto& [start, t] : tallies.by_mapping)
    if (!recorded.count(start) && t.accesses() > 0) {
      MappingEstimate e;
      e.start = start;
      if (start != 0)
        if (auto ft = first_touched.find(start); ft != first_touched.end()) e.bytes = ft->second;
      e.basis = MappingBasis::Sampled;
      e.samples = t.accesses();
      e.remote_share = wilson_interval(t.remote, e.samples);
      e.excess = t.remote > 0 ? t.cost / t.remote : default_excess;
      auto s = ev.mapping_source.find(start);
      e.source = s != ev.mapping_source.end() ? s->second : ev.source;
      f.mappings[start] = e;
    }

  // Mappings gone from the snapshot that nobody sampled: placement, from where their first touches
  // put the pages.
  std::map<std::uint64_t, std::map<int, std::uint64_t>> first_touch_pages;
  for (const auto& ft : r.first_touch)
    if (ft.mapping != 0 && ft.memory_node >= 0) first_touch_pages[ft.mapping][ft.memory_node] += ft.pages;
  for (const auto& [start, pages] : first_touch_pages) {
    if (f.mappings.count(start)) continue;
    MappingEstimate e;
    e.start = start;
    e.bytes = first_touched[start];
    e.basis = MappingBasis::Placement;
    e.remote_share = placement_share(pages, thread_nodes);
    e.excess = default_excess;
    e.source = "placement-estimate";
    f.mappings[start] = e;
  }

  // Weights: resident bytes; where no sampled or counted mapping has any (a recording without
  // numa_maps), the samples themselves.
  double counted = 0, sampled_bytes = 0;
  for (auto& [start, e] : f.mappings) {
    if (e.basis == MappingBasis::NotCounted) f.not_counted_bytes += e.bytes;
    else counted += e.bytes;
    if (e.basis == MappingBasis::Sampled) sampled_bytes += e.bytes;
  }
  const bool by_bytes = counted > 0 && (sampled_bytes > 0 || tallies.program.accesses() <= 0);
  f.weighting = by_bytes ? "resident-bytes" : "samples";
  double total_weight = 0;
  for (auto& [start, e] : f.mappings) {
    if (e.basis == MappingBasis::NotCounted) continue;
    e.weight = by_bytes ? e.bytes : (e.basis == MappingBasis::Sampled ? e.samples : 0);
    total_weight += e.weight;
  }
  // Rate sources (PMU samples, watchpoint hits scaled by exposure) count accesses, not pages: among
  // the mappings they decide, the bytes they hold together are shared out by access volume, so a
  // hot local buffer and a cold remote one of the same size do not weigh the same.
  if (by_bytes) {
    double rate_bytes = 0, rate_samples = 0;
    auto rate_sourced = [&](const MappingEstimate& e) {
      return e.basis == MappingBasis::Sampled && !fault_based(e.source) && e.samples > 0;
    };
    for (auto& [start, e] : f.mappings)
      if (rate_sourced(e)) rate_bytes += e.weight, rate_samples += e.samples;
    if (rate_samples > 0)
      for (auto& [start, e] : f.mappings)
        if (rate_sourced(e)) e.weight = rate_bytes * e.samples / rate_samples;
  }
  // Program-wide evidence with no mapping to hold it (no numa_maps): it is the whole estimate.
  const bool program_wide_alone = total_weight <= 0 && program_wide.accesses() > 0;
  if (total_weight <= 0 && !program_wide_alone) return f;
  f.counted_bytes = counted;

  // Sampled strata (each sampled mapping, and the program-wide one) pooled by weight; the
  // interval is Wilson's on the Kish effective count. Placement strata add their bounds.
  double covered = 0, covered_share = 0, kish = 0, placement_value = 0, placement_low = 0, placement_high = 0;
  double migration_widening = 0;   // weight x migrated share of the fault-based strata
  ShareInterval program_wide_share = wilson_interval(program_wide.remote, program_wide.accesses());
  if (program_wide_alone) {
    covered = 1, covered_share = program_wide_share.value, kish = 1.0 / program_wide.accesses();
  }
  for (auto& [start, e] : f.mappings) {
    if (e.basis == MappingBasis::NotCounted || total_weight <= 0) continue;
    e.weight /= total_weight;
    if (e.basis == MappingBasis::Placement) {
      placement_value += e.weight * e.remote_share.value;
      placement_low += e.weight * e.remote_share.low;
      placement_high += e.weight * e.remote_share.high;
    } else if (e.weight > 0) {
      covered += e.weight;
      covered_share += e.weight * e.remote_share.value;
      kish += e.weight * e.weight / e.samples;
      if (fault_based(e.source) && balancing_may_migrate(e.record)) migration_widening += e.weight * migrated;
      if (e.basis == MappingBasis::Sampled || e.basis == MappingBasis::ProgramWide) f.covered_bytes += e.bytes;
    }
  }
  if (program_wide_alone) f.covered_bytes = 0;
  f.coverage = program_wide_alone ? 1.0 : covered;
  ShareInterval total{placement_value, placement_low, placement_high};
  if (covered > 0) {
    const double share = covered_share / covered;
    const double n_eff = covered * covered / kish;
    f.effective_samples = n_eff;
    const ShareInterval w = wilson_interval(share * n_eff, n_eff);
    total.value += covered * share;
    total.low += covered * w.low;
    total.high = std::min(1.0, total.high + covered * w.high + migration_widening);
  }
  if (program_wide_alone && fault_based(ev.program_source)) total.high = std::min(1.0, total.high + migrated);
  f.remote_share = total;
  std::map<std::string, double> decided;
  for (const auto& [start, e] : f.mappings)
    if (e.basis == MappingBasis::Sampled || e.basis == MappingBasis::ProgramWide) decided[e.source] += e.weight;
  if (program_wide_alone) decided[ev.program_source] += 1;
  double most = 0;
  for (const auto& [source, weight] : decided)
    if (weight > most) most = weight, f.main_source = source;
  f.known = f.coverage >= kMinCoverage;
  const double bias = program_wide_alone && fault_based(ev.program_source) ? migrated : migration_widening;
  f.confidence = confidence_of(total, f.coverage, f.known, bias);

  for (auto& [start, e] : f.mappings) {
    if (fault_based(e.source) && balancing_may_migrate(e.record) &&
        (e.basis == MappingBasis::Sampled || e.basis == MappingBasis::ProgramWide))
      e.remote_share.high = std::min(1.0, e.remote_share.high + migrated);
    e.cost = e.weight * e.remote_share.value * e.excess;
    e.cost_low = e.weight * e.remote_share.low * e.excess;
    e.cost_high = e.weight * e.remote_share.high * e.excess;
    f.cost += e.cost, f.cost_low += e.cost_low, f.cost_high += e.cost_high;
  }
  if (program_wide_alone) {
    const double excess = program_wide.remote > 0 ? program_wide.cost / program_wide.remote : default_excess;
    f.cost = total.value * excess, f.cost_low = total.low * excess, f.cost_high = total.high * excess;
  }

  // Threads: their own samples, else placement x residency over the counted memory.
  std::map<int, std::uint64_t> counted_pages;
  for (const auto& [start, e] : f.mappings)
    if (e.record && e.basis != MappingBasis::NotCounted)
      for (const auto& [n, p] : e.record->pages_by_node) counted_pages[n] += p;
  for (const auto& t : r.threads) {
    ThreadEstimate te;
    auto it = tallies.by_thread.find(t.tid);
    if (it != tallies.by_thread.end() && it->second.accesses() > 0) {
      te.samples = it->second.accesses();
      te.remote_share = wilson_interval(it->second.remote, te.samples);
      const bool own_rows = std::any_of(ev.rows.begin(), ev.rows.end(), [&](const AccessView& v) { return v.tid == t.tid; });
      te.source = own_rows ? ev.source : ev.program_source;
    } else {
      std::map<int, double> own;
      double polls = 0;
      for (const auto& [n, k] : t.residency) polls += double(k);
      for (const auto& [n, k] : t.residency)
        if (polls > 0) own[n] = double(k) / polls;
      if (own.empty() || counted_pages.empty()) continue;
      te.source = "placement-estimate";
      te.remote_share = placement_share(counted_pages, own);
    }
    f.threads[t.tid] = te;
  }
  return f;
}

}  // namespace numa_agent::analyzer
