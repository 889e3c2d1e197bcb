// See report.hpp. build_report is a chain of named steps (like perf's __cmd_report):
//   select_access_evidence -> aggregate_accesses -> fuse_evidence -> score_components -> aggregate_mappings
//   -> evaluate_rules -> rank_recommendations
// and the report's sections are written from their results: describe_machine, describe_evidence,
// describe_components, aggregate_threads, describe_mappings, aggregate_sites, describe_recommendations.
#include "analyzer/rules/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "agent/text.hpp"
#include "analyzer/model/json_field.hpp"
#include "analyzer/rules/access_evidence.hpp"
#include "analyzer/rules/fusion.hpp"
#include "analyzer/rules/numbers.hpp"
#include "analyzer/rules/plan.hpp"
#include "analyzer/rules/rules.hpp"
#include "analyzer/rules/site_table.hpp"

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

bool one_node(const Recording& r) { return r.machine.nodes.size() < 2; }
int node_count(const Recording& r) { return static_cast<int>(r.machine.nodes.size()); }

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

json optional_json(const std::optional<double>& v, int digits = 4) {
  return v ? json(rounded(*v, digits)) : json(nullptr);
}
json string_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json nodes_object(const std::map<int, double>& by_node, int digits = 0) {
  json o = json::object();
  for (const auto& [node, v] : by_node) o[std::to_string(node)] = digits ? rounded(v, digits) : std::round(v);
  return o;
}

// CV of per-node values over every node of the machine (absent nodes count 0).
std::optional<double> per_node_cv(const NodeShares& by_node, int nodes) {
  std::vector<double> per_node(static_cast<std::size_t>(nodes), 0.0);
  for (const auto& [n, v] : by_node) per_node[static_cast<std::size_t>(n)] += v;
  return coefficient_of_variation(per_node);
}

// ---- the steps ----

// On one node every access is local: there is no evidence to choose.
AccessEvidence select_access_evidence(const Recording& r) { return one_node(r) ? AccessEvidence{} : gather_evidence(r); }

std::string unknown_note(const FusedEstimate& f) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "unknown: no access evidence for %.0f %% of resident memory", (1.0 - f.coverage) * 100.0);
  return buf;
}

// The score from locality, stability and balance (metric "score"), any of them missing.
double weighted_score(double locality, const ComponentScores& s) {
  double sum = kWeightLocality * locality, weights = kWeightLocality;
  if (s.stability) sum += kWeightStability * *s.stability, weights += kWeightStability;
  if (s.balance) sum += kWeightBalance * *s.balance, weights += kWeightBalance;
  return 100.0 * sum / weights;
}

ComponentScores score_components(const Recording& r, const AccessTallies& tallies, const FusedEstimate& fused) {
  ComponentScores s;
  s.remote_share = fused.remote_share;
  if (fused.remote_share && fused.known) s.locality = 1.0 - fused.remote_share->value;
  std::set<int> thread_nodes;
  for (const auto& t : r.threads) {
    s.cross_node_migrations += double(t.node_migrations);
    s.thread_seconds += lifetime_s(t, r.duration_s);
    for (const auto& [node, n] : t.residency)
      if (n > 0) thread_nodes.insert(node);
  }
  s.nodes_with_threads = thread_nodes.size();
  s.migrations_per_thread_second = s.thread_seconds > 0 ? s.cross_node_migrations / s.thread_seconds : 0;
  if (one_node(r)) {
    s.locality.reset();
    s.score_note = "nothing to measure: the machine has one NUMA node, so every access is local";
    return s;
  }
  if (!r.threads.empty()) s.stability = stability_from_rate(s.migrations_per_thread_second);
  if (thread_nodes.size() >= 2) {
    // Balance of traffic where there is any, else of resident pages.
    NodeShares basis = tallies.traffic_to_node;
    s.balance_basis = "traffic";
    if (basis.empty()) {
      s.balance_basis = "pages";
      for (const auto& mp : r.mappings)
        for (const auto& [node, n] : mp.pages_by_node) basis[node] += double(n);
    }
    s.balance_cv = per_node_cv(basis, node_count(r));
    if (s.balance_cv) s.balance = balance_from_cv(*s.balance_cv, node_count(r));
  }
  if (!s.locality) {
    s.score_note = fused.remote_share ? "locality " + unknown_note(fused) + " (see components.coverage)"
                                      : "no locality evidence was recorded (see evidence.sources)";
    return s;
  }
  s.score = weighted_score(*s.locality, s);
  s.score_interval = ShareInterval{*s.score, weighted_score(1.0 - fused.remote_share->high, s),
                                   weighted_score(1.0 - fused.remote_share->low, s)};
  return s;
}

// The mapping table's rows: every mapping with access evidence and the 20 largest, by cost, then
// sampled accesses, then size; each with who uses it and who first touched it.
std::vector<MappingRow> aggregate_mappings(const Recording& r, const AccessTallies& tallies, const FusedEstimate& fused) {
  std::map<std::uint64_t, const MappingRecord*> by_start;
  for (const auto& mp : r.mappings) by_start[mp.start] = &mp;
  std::set<std::uint64_t> starts;
  for (const auto& [start, tally] : tallies.by_mapping) starts.insert(start);
  std::vector<const MappingRecord*> by_pages;
  for (const auto& mp : r.mappings) by_pages.push_back(&mp);
  auto pages_of = [](const MappingRecord& m) {
    std::uint64_t pages = 0;
    for (auto& [n, p] : m.pages_by_node) pages += p;
    return pages;
  };
  std::sort(by_pages.begin(), by_pages.end(), [&](auto* a, auto* b) { return pages_of(*a) > pages_of(*b); });
  for (std::size_t i = 0; i < by_pages.size() && i < 20; ++i) starts.insert(by_pages[i]->start);

  std::vector<MappingRow> rows;
  for (std::uint64_t start : starts) {
    auto rec = by_start.find(start);
    auto tally = tallies.by_mapping.find(start);
    if (rec == by_start.end() && start != 0 && tally == tallies.by_mapping.end()) continue;
    MappingRow row;
    row.start = start;
    row.record = rec != by_start.end() ? rec->second : nullptr;
    row.pages = row.record ? double(pages_of(*row.record)) : 0;
    if (auto e = fused.mappings.find(start); e != fused.mappings.end()) row.estimate = &e->second;
    if (tally != tallies.by_mapping.end()) row.tally = tally->second;
    if (auto it = tallies.mapping_from_node.find(start); it != tallies.mapping_from_node.end()) row.from_node = it->second;
    if (auto it = tallies.mapping_to_node.find(start); it != tallies.mapping_to_node.end()) {
      row.to_node = it->second;
      row.has_traffic = true;
      row.traffic_cv = per_node_cv(row.to_node, node_count(r));
    }
    if (const double accesses = row.tally.accesses(); accesses > 0)
      for (auto& [n, v] : row.from_node) {
        if (v / accesses >= kUserShare) ++row.users;
        if (v / accesses > row.main_share) row.main_share = v / accesses, row.main_user = n;
      }
    rows.push_back(std::move(row));
  }
  for (auto& row : rows)
    for (const auto& f : r.first_touch)
      if (f.mapping == row.start) {
        if (f.cpu_node >= 0) row.first_touch_from[f.cpu_node] += double(f.pages);
        row.first_touch_sites[f.site] += double(f.pages);
      }
  std::sort(rows.begin(), rows.end(), [](const MappingRow& a, const MappingRow& b) {
    const double ca = a.estimate ? a.estimate->cost : 0, cb = b.estimate ? b.estimate->cost : 0;
    if (ca != cb) return ca > cb;
    if (a.tally.total != b.tally.total) return a.tally.total > b.tally.total;
    return a.pages > b.pages;
  });
  return rows;
}

// Every rule of the table on every subject it judges (rules.hpp RuleSubjects), subject by subject.
// Only R4 speaks when the program is well placed; none on one node.
std::vector<Candidate> evaluate_rules(const RuleContext& context, const std::vector<MappingRow>& mappings) {
  std::vector<Candidate> candidates;
  if (one_node(context.recording)) return candidates;
  const auto& locality = context.scores.locality;
  const bool placement_to_judge = locality && *locality < kWellPlacedLocality;
  auto run = [&](unsigned subjects, const RuleSubject& subject) {
    for (const auto& rule : kRules)
      if ((rule.subjects & subjects) && (rule.applies_when_well_placed || placement_to_judge))
        if (auto c = rule.evaluate(rule, context, subject)) candidates.push_back(std::move(*c));
  };
  for (const auto& row : mappings) run(kMappings, {&row, nullptr});
  for (const auto& t : context.recording.threads) run(kThreads, {nullptr, &t});
  run(kProgram, {});
  run(kThreadGroup, {});
  // Only what matters: a material share of the estimated remote-access cost (R4 stands on its own,
  // as for well-placed programs).
  const double program_cost = context.fused.cost;
  std::erase_if(candidates, [&](const Candidate& c) {
    return c.kind != RecommendationKind::PinThreads && !(program_cost > 0 && c.cost >= kMaterialCostShare * program_cost);
  });
  return candidates;
}

// By cost; near-equal costs (within 1 %) go to the more specific fix (the rule's tie_rank): a
// thread that migrates makes its memory look shared, so pinning comes before interleaving the same
// accesses. Upper-bound gains (use-agent) go last.
void rank_recommendations(std::vector<Candidate>& candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rank_last != b.rank_last) return !a.rank_last;
    if (std::abs(a.cost - b.cost) > 0.01 * std::max(a.cost, b.cost)) return a.cost > b.cost;
    return rule(a.kind).tie_rank < rule(b.kind).tie_rank;
  });
}

// ---- the report's sections ----

// "0-3,8"
std::string cpu_list_text(const std::vector<int>& c) {
  std::string cpus;
  for (std::size_t k = 0; k < c.size();) {
    std::size_t j = k;
    while (j + 1 < c.size() && c[j + 1] == c[j] + 1) ++j;
    if (!cpus.empty()) cpus += ',';
    cpus += std::to_string(c[k]) + (j > k ? "-" + std::to_string(c[j]) : "");
    k = j + 1;
  }
  return cpus;
}

json describe_machine(const MachineInfo& m) {
  json nodes = json::array();
  for (std::size_t i = 0; i < m.nodes.size(); ++i)
    nodes.push_back({{"node", i}, {"os_index", m.nodes[i].os_index}, {"cpus", cpu_list_text(m.nodes[i].cpus)},
                     {"memory_bytes", m.nodes[i].memory_bytes}});
  return {{"nodes", nodes},
          {"distances", m.distances},
          {"numa_balancing", m.numa_balancing < 0 ? json(nullptr) : json(m.numa_balancing != 0)},
          {"perf_event_paranoid", m.perf_event_paranoid == -99 ? json(nullptr) : json(m.perf_event_paranoid)},
          {"kernel", m.kernel}};
}

// evidence.fusion: how the estimate was made and what each source gave.
json describe_fusion(const AccessEvidence& ev, const FusedEstimate& f) {
  json sources = json::array();
  for (const auto& c : ev.sources) {
    double bytes = 0;
    for (const auto& [start, e] : f.mappings)
      if (e.source.find(c.source) != std::string::npos &&
          (e.basis == MappingBasis::Sampled || e.basis == MappingBasis::ProgramWide))
        bytes += e.bytes;
    sources.push_back({{"source", c.source}, {"samples", rounded(c.samples, 2)}, {"used", rounded(c.used, 2)},
                       {"bytes_decided", std::uint64_t(bytes)}, {"sees", c.sees}});
  }
  double placement_bytes = 0;
  for (const auto& [start, e] : f.mappings)
    if (e.basis == MappingBasis::Placement) placement_bytes += e.bytes;
  sources.push_back({{"source", "placement-estimate"}, {"samples", 0}, {"used", 0},
                     {"bytes_decided", std::uint64_t(placement_bytes)},
                     {"sees", "thread residency x pages per node: right only if threads touch memory in proportion to "
                              "bytes, which depends on how they share it; bounds cover any sharing"}});
  return {{"method", kFusionMethod},
          {"weighting", string_or_null(f.weighting)},
          {"effective_samples", rounded(f.effective_samples, 1)},
          {"sources", sources}};
}

json describe_evidence(const Recording& r, const AccessEvidence& ev, const FusedEstimate& fused) {
  json sources = json::array();
  for (const auto& p : r.evidence)
    sources.push_back({{"source", p.source}, {"used", p.used}, {"detail", p.detail},
                       {"errno", p.error ? json(p.error) : json(nullptr)},
                       {"errno_name", p.error ? json(p.error_name) : json(nullptr)}});
  std::string locality_source = one_node(r)        ? "none: one NUMA node, every access is local"
                                : !fused.main_source.empty() ? fused.main_source
                                : !ev.source.empty() ? ev.source
                                : fused.remote_share ? "placement-estimate"
                                                     : "none: no access or placement evidence was recorded";
  json notes = json::array();
  if (r.machine.numa_balancing == 1 && !one_node(r))
    notes.push_back(
        "NUMA balancing is on: the kernel migrates pages towards their users while we measure, so placement "
        "improves during the run and hint faults are a sampled access signal");
  else if (r.machine.numa_balancing == 0 && !one_node(r))
    notes.push_back("NUMA balancing is off: pages stay where they were first touched; no hint faults are sampled");
  RecordingSummary summary{r.mode, r.command, r.pid, rounded(r.duration_s, 3), r.stop_reason,
                           r.exit_code < 0 ? std::nullopt : std::optional<int>(r.exit_code),
                           r.exit_signal ? std::optional<int>(r.exit_signal) : std::nullopt, r.agent, r.tool_version};
  return {{"recording", recording_summary_json(summary)},
          {"sources", sources},
          {"locality_source", locality_source},
          {"confidence", string_or_null(fused.confidence)},
          {"cost_unit", fused.remote_share ? json(kFusedCostUnit) : json(nullptr)},
          {"fusion", describe_fusion(ev, fused)},
          {"samples",
           {{"page_faults", r.fault_samples}, {"cpu_migrations", r.migration_samples}, {"pmu", r.pmu_samples},
            {"lost_records", r.lost_records}, {"unresolved_pages", r.unresolved_pages}}},
          {"vmstat_delta", r.vmstat_delta},
          {"notes", notes}};
}

// Per node: what each node holds, serves and issues.
std::vector<NodeSummary> describe_nodes(const Recording& r, const AccessEvidence& ev) {
  std::vector<NodeSummary> per_node;
  for (int n = 0; n < node_count(r); ++n) {
    double pages = 0, bytes = 0, served = 0, issued = 0;
    int homes = 0;
    for (const auto& mp : r.mappings)
      if (auto it = mp.pages_by_node.find(n); it != mp.pages_by_node.end()) {
        pages += double(it->second);
        bytes += double(it->second) * double(mp.page_kb) * 1024;   // huge-page mappings count their size
      }
    for (const auto& v : ev.rows.empty() ? ev.program_rows : ev.rows) {
      if (v.memory_node == n) served += v.local + v.remote;
      if (v.cpu_node == n) issued += v.local + v.remote;
    }
    for (const auto& t : r.threads) homes += home_node(t) == n;
    per_node.push_back({n, std::uint64_t(pages), std::uint64_t(bytes), rounded(served, 2), rounded(issued, 2), homes});
  }
  return per_node;
}

std::optional<double> rounded_optional(const std::optional<double>& v) {
  return v ? std::optional<double>(rounded(*v)) : std::nullopt;
}
std::optional<std::string> unless_empty(const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); }

json describe_components(const Recording& r, const AccessEvidence& ev, const AccessTallies& tallies,
                         const FusedEstimate& fused, const ComponentScores& s) {
  const auto& locality = s.locality;
  Components c;
  c.locality = rounded_optional(locality);
  c.remote_share = rounded_optional(locality ? std::optional<double>(1.0 - *locality) : std::nullopt);
  if (fused.remote_share) {
    c.remote_share_estimate = rounded(fused.remote_share->value);
    c.remote_share_interval = Interval{rounded(fused.remote_share->low), rounded(fused.remote_share->high)};
    c.coverage = Coverage{rounded(fused.coverage), std::uint64_t(fused.counted_bytes), std::uint64_t(fused.covered_bytes),
                          std::uint64_t(fused.not_counted_bytes), fused.known};
    if (!fused.known) c.unknown_note = unknown_note(fused);
  }
  if (s.score_interval) c.score_interval = Interval{rounded(s.score_interval->low, 1), rounded(s.score_interval->high, 1)};
  c.stability = rounded_optional(s.stability);
  c.balance = rounded_optional(s.balance);
  c.score_note = unless_empty(s.score_note);
  c.details = {
      {"locality",
       {{"metric", metric("locality").formula}, {"source", string_or_null(ev.source)},
        {"confidence", string_or_null(fused.confidence)}, {"local", rounded(tallies.program.local, 2)},
        {"remote", rounded(tallies.program.remote, 2)}}},
      {"stability",
       {{"metric", metric("stability").formula}, {"source", "thread-residency"},
        {"cross_node_migrations", s.cross_node_migrations}, {"thread_seconds", rounded(s.thread_seconds, 3)},
        {"migrations_per_thread_second", rounded(s.migrations_per_thread_second, 4)}}},
      {"balance",
       {{"metric", metric("balance").formula}, {"basis", string_or_null(s.balance_basis)},
        {"cv", optional_json(s.balance_cv)}, {"nodes_with_threads", s.nodes_with_threads}}},
      {"score", {{"metric", metric("score").formula},
                 {"weights", {{"locality", kWeightLocality}, {"stability", kWeightStability}, {"balance", kWeightBalance}}}}}};
  c.nodes = describe_nodes(r, ev);
  if (locality && *locality >= kWellPlacedLocality)
    c.recommendation_note = "locality " + percent(*locality) + " >= 90 %: no memory-placement recommendation (" +
                            std::string(kWellPlacedSource) + ")";
  return components_json(c);
}

// Per thread: residency, migrations, its accesses and score, and the agent's view of it.
json interval_or_null(const std::optional<ShareInterval>& i) {
  return i ? json{{"low", rounded(i->low)}, {"high", rounded(i->high)}} : json(nullptr);
}

json aggregate_threads(const Recording& r, const AccessEvidence& ev, const AccessTallies& tallies,
                       const FusedEstimate& fused) {
  const std::map<int, AgentThreadRecord> placed_by_agent = agent_threads(r);
  json threads = json::array();
  for (const auto& t : r.threads) {
    double polls = 0;
    for (const auto& [node, n] : t.residency) polls += double(n);
    std::map<int, double> share;
    for (const auto& [node, n] : t.residency) share[node] = polls > 0 ? double(n) / polls : 0;
    double life = lifetime_s(t, r.duration_s);
    auto it = tallies.by_thread.find(t.tid);
    const bool tallied = it != tallies.by_thread.end();
    std::optional<double> loc;
    if (!one_node(r) && tallied) loc = it->second.locality();
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
                   {{"local", tallied ? rounded(it->second.local, 2) : 0.0},
                    {"remote", tallied ? rounded(it->second.remote, 2) : 0.0},
                    {"source", string_or_null(ev.source)}}},
                  {"locality", optional_json(loc)},
                  {"score", tscore ? json(std::round(*tscore * 10) / 10) : json(nullptr)}};
    // The fused view of the thread: its own samples' share and interval, else placement's.
    auto est = fused.threads.find(t.tid);
    const bool estimated = est != fused.threads.end();
    entry["remote_share_basis"] = estimated ? json(est->second.source) : json(nullptr);
    entry["remote_share_estimate"] = estimated ? json(rounded(est->second.remote_share.value)) : json(nullptr);
    entry["remote_share_interval"] = interval_or_null(estimated ? std::optional<ShareInterval>(est->second.remote_share) : std::nullopt);
    if (auto a = placed_by_agent.find(t.tid); a != placed_by_agent.end()) entry["agent"] = agent_placement_json(a->second);
    threads.push_back(entry);
  }
  return threads;
}

json describe_mappings(const Recording& r, const std::vector<MappingRow>& rows) {
  json mappings = json::array();
  for (const auto& row : rows) {
    std::map<int, double> pages_by_node;
    if (row.record)
      for (auto& [n, p] : row.record->pages_by_node) pages_by_node[n] = double(p);
    std::optional<double> loc;
    if (!one_node(r)) loc = row.tally.locality();
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
           {"from_node", nodes_object(row.from_node, 2)},
           {"to_node", nodes_object(row.to_node, 2)}}},
         {"first_touch_from_node", nodes_object(row.first_touch_from)},
         {"traffic_cv", optional_json(row.traffic_cv)},
         {"locality", optional_json(loc)},
         {"cost", row.estimate ? rounded(row.estimate->cost, 6) : 0.0},
         {"score", loc ? json(std::round(*loc * 1000) / 10) : json(nullptr)},
         {"basis", row.estimate ? json(basis_name(row.estimate->basis)) : json(nullptr)},
         {"remote_share_source", row.estimate && !row.estimate->source.empty() ? json(row.estimate->source) : json(nullptr)},
         {"weight", row.estimate ? rounded(row.estimate->weight) : 0.0},
         {"remote_share_estimate", row.estimate && row.estimate->basis != MappingBasis::NotCounted
                                       ? json(rounded(row.estimate->remote_share.value)) : json(nullptr)},
         {"remote_share_interval",
          interval_or_null(row.estimate && row.estimate->basis != MappingBasis::NotCounted
                               ? std::optional<ShareInterval>(row.estimate->remote_share) : std::nullopt)}});
  }
  return mappings;
}

// Code that first-touched pages (the 50 that touched most), then the agent's allocation sites.
json aggregate_sites(const Recording& r) {
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
  const json& profile = r.agent_profile;
  if (profile.is_object() && profile.contains("pools") && profile["pools"].is_object() &&
      profile["pools"].contains("sampling") && profile["pools"]["sampling"].is_object() &&
      profile["pools"]["sampling"].contains("sites") && profile["pools"]["sampling"]["sites"].is_array())
    for (const auto& s : profile["pools"]["sampling"]["sites"]) {
      if (!s.is_object()) continue;   // the profile is the program's file: take what is well formed
      json entry = s;
      entry["kind"] = "allocation";
      sites.push_back(entry);
    }
  return sites;
}

json describe_recommendations(const std::vector<Candidate>& ranked, const FusedEstimate& fused) {
  json recs = json::array();
  int rank = 0;
  const double program_cost = fused.cost;
  for (const auto& c : ranked) {
    const RuleDefinition& made_by = rule(c.kind);
    Recommendation rec{++rank, std::string(kind_name(c.kind)), c.title, c.evidence, c.command,
                       {rounded(c.cost, 6), rounded(c.cost_low, 6), rounded(c.cost_high, 6), kFusedCostUnit,
                        program_cost > 0 ? rounded(std::min(1.0, c.cost / program_cost), 3) : 0.0, c.rank_last},
                       {std::string(made_by.id), std::string(made_by.condition), made_by.threshold,
                        std::string(made_by.source)},
                       c.mapping, c.site, c.tids};
    recs.push_back(recommendation_json(rec));
  }
  return recs;
}

}  // namespace

json build_report(const Recording& r, const ReportOptions& options) {
  const AccessEvidence evidence = select_access_evidence(r);
  const AccessTallies tallies = aggregate_accesses(evidence);
  const FusedEstimate fused = fuse_evidence(r, evidence, tallies);
  const ComponentScores scores = score_components(r, tallies, fused);
  const std::vector<MappingRow> mappings = aggregate_mappings(r, tallies, fused);
  std::vector<Candidate> candidates =
      evaluate_rules(RuleContext{r, options, evidence, tallies, scores, fused, shell_join(r.command)}, mappings);
  offer_plan(candidates, plan_for_report(r), shell_join(r.command));
  rank_recommendations(candidates);

  json report;
  report["schema"] = kReportSchema;
  report["machine"] = describe_machine(r.machine);
  report["evidence"] = describe_evidence(r, evidence, fused);
  report["score"] = scores.score ? json(std::round(*scores.score * 10) / 10) : json(nullptr);
  report["components"] = describe_components(r, evidence, tallies, fused, scores);
  report["threads"] = aggregate_threads(r, evidence, tallies, fused);
  report["mappings"] = describe_mappings(r, mappings);
  // Symbolised sites (record since the sites were named) get the table; older recordings keep theirs.
  report["sites"] = r.sites.empty() ? aggregate_sites(r) : site_table(r, report["mappings"]);
  report["recommendations"] = describe_recommendations(candidates, fused);
  return report;
}

json report_model(const ReportInput& input) { return input.recording ? build_report(*input.recording) : input.report; }

json load_report_model(const std::string& path) { return report_model(read_report_input(path)); }

}  // namespace numa_agent::analyzer
