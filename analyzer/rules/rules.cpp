// See rules.hpp. The rule table and one evaluator per rule, each beside its threshold and citation.
#include "analyzer/rules/rules.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "agent/text.hpp"
#include "analyzer/rules/numbers.hpp"

namespace numa_agent::analyzer {

namespace {

using text::hex;

std::string mapping_label(const MappingRecord* m, std::uint64_t start) {
  if (!m) return "mapping at " + hex(start);
  std::string name = m->name.empty() ? "anonymous" : m->name;
  double mib = double(m->end - m->start) / (1024.0 * 1024.0);
  char buf[64];
  std::snprintf(buf, sizeof buf, " (%.1f MiB at %s)", mib, hex(m->start).c_str());
  return name + buf;
}

std::string policy_of(const MappingRow& row) { return row.record ? row.record->policy : ""; }

// The program's own placement for the mapping (numa_maps policy bind:/prefer...).
bool policy_pins(const MappingRow& row) {
  const std::string policy = policy_of(row);
  return policy.starts_with("bind") || policy.starts_with("prefer");
}

// Conditions the mapping rules share.
// Remote enough to act on: locality below R1's threshold, some remote access.
bool misplaced(const MappingRow& row) {
  auto loc = row.tally.locality();
  return loc && row.tally.remote > 0 && *loc < rule(RecommendationKind::Colocate).threshold;
}
// Used from several nodes with uneven per-node traffic (R2's threshold).
bool spread_over_nodes(const MappingRow& row) {
  return row.users >= 2 && row.traffic_cv && *row.traffic_cv > rule(RecommendationKind::Interleave).threshold;
}
double load_share(const MappingRow& row) { return row.tally.total > 0 ? row.tally.loads / row.tally.total : 0; }
bool read_mostly(const MappingRow& row, const RuleContext& context) {
  return context.evidence.source == "pmu-memory-sampling" &&
         load_share(row) >= rule(RecommendationKind::Replicate).threshold;
}

// Pages first-touched from one node other than their main user's (R6's threshold).
struct FirstTouchSkew {
  int node = -1;
  double share = 0;
  std::string site;   // the site that touched most of them
};
std::optional<FirstTouchSkew> first_touched_elsewhere(const MappingRow& row) {
  double total = 0, most = 0;
  int node = -1;
  for (auto& [n, v] : row.first_touch_from) {
    total += v;
    if (v > most) most = v, node = n;
  }
  if (total <= 0 || node == row.main_user || most / total < rule(RecommendationKind::FirstTouch).threshold ||
      policy_pins(row))
    return std::nullopt;
  FirstTouchSkew skew{node, most / total, ""};
  double site_pages = 0;
  for (auto& [s, v] : row.first_touch_sites)
    if (v > site_pages) site_pages = v, skew.site = s;
  return skew;
}

std::optional<Candidate> colocate_mapping(const RuleContext& context, const MappingRow& row) {
  if (!misplaced(row) || spread_over_nodes(row) || row.main_share < kMainUserShare || first_touched_elsewhere(row))
    return std::nullopt;
  const Recording& r = context.recording;
  int page_node = -1;
  double page_most = 0;
  for (auto& [n, v] : row.to_node)
    if (v > page_most) page_most = v, page_node = n;
  const std::string policy = policy_of(row);
  Candidate c{RecommendationKind::Colocate};
  c.title = "Move " + mapping_label(row.record, row.start) + " to node " + std::to_string(row.main_user) +
            ", where its users run";
  c.evidence = percent(row.main_share) + " of its accesses come from node " + std::to_string(row.main_user) +
               " while its pages are mostly on node " + std::to_string(page_node) + " (policy " +
               (policy.empty() ? "unknown" : policy) + "); locality " + percent(*row.tally.locality()) + " (" +
               context.evidence.source + ")";
  std::string to_os = std::to_string(r.machine.nodes[static_cast<std::size_t>(row.main_user)].os_index);
  std::string from_os = page_node >= 0 ? std::to_string(r.machine.nodes[static_cast<std::size_t>(page_node)].os_index) : "all";
  c.command = r.mode == "attach" ? "migratepages " + std::to_string(r.pid) + " " + from_os + " " + to_os
                                 : "numactl --cpunodebind=" + to_os + " --membind=" + to_os + " -- " + context.program;
  if (policy_pins(row)) c.command += "  (and drop the program's own " + policy + " policy for this mapping)";
  c.cost = row.tally.cost;
  c.mapping = hex(row.start);
  return c;
}

// Where the evidence is per thread only (no mapping detail): a thread whose memory is elsewhere.
std::optional<Candidate> colocate_thread(const RuleDefinition& rule, const RuleContext& context, const ThreadRecord& t) {
  if (context.evidence.per_access) return std::nullopt;
  auto it = context.tallies.by_thread.find(t.tid);
  if (it == context.tallies.by_thread.end()) return std::nullopt;
  auto loc = it->second.locality();
  if (!loc || *loc >= rule.threshold) return std::nullopt;
  Candidate c{RecommendationKind::Colocate};
  c.title = "Run thread " + std::to_string(t.tid) + " (" + t.name + ") next to its memory";
  c.evidence = "locality " + percent(*loc) + " from " + context.evidence.source;
  c.command = "numactl --cpunodebind=N --membind=N -- " + context.program + "  (N: the node holding its data)";
  c.cost = it->second.cost;
  return c;
}

std::optional<Candidate> evaluate_colocate(const RuleDefinition& rule, const RuleContext& context,
                                           const RuleSubject& subject) {
  if (subject.mapping) return colocate_mapping(context, *subject.mapping);
  if (subject.thread) return colocate_thread(rule, context, *subject.thread);
  return std::nullopt;
}

// R2 and R3 share their subject (a misplaced mapping spread over nodes); R3 takes the read-mostly ones.
Candidate spread_candidate(const RuleContext& context, const MappingRow& row, bool replicate) {
  Candidate c{replicate ? RecommendationKind::Replicate : RecommendationKind::Interleave};
  const std::string label = mapping_label(row.record, row.start);
  c.title = (replicate ? "Replicate read-mostly " : "Interleave ") + label + " across nodes";
  c.evidence = "accessed from " + std::to_string(row.users) + " nodes, locality " + percent(*row.tally.locality()) +
               ", per-node traffic CV " + std::to_string(rounded(*row.traffic_cv, 2)).substr(0, 4) +
               (replicate ? ", " + percent(load_share(row)) + " loads" : "") + " (" + context.evidence.source + ")";
  c.command = replicate ? "allocate one copy per node (numa_alloc_onnode) and have each thread read its node's copy"
                        : "numactl --interleave=all -- " + context.program;
  c.cost = row.tally.cost;
  c.mapping = hex(row.start);
  return c;
}

std::optional<Candidate> evaluate_interleave(const RuleDefinition&, const RuleContext& context, const RuleSubject& subject) {
  const MappingRow& row = *subject.mapping;
  if (!misplaced(row) || !spread_over_nodes(row) || read_mostly(row, context)) return std::nullopt;
  return spread_candidate(context, row, false);
}

std::optional<Candidate> evaluate_replicate(const RuleDefinition&, const RuleContext& context, const RuleSubject& subject) {
  const MappingRow& row = *subject.mapping;
  if (!misplaced(row) || !spread_over_nodes(row) || !read_mostly(row, context)) return std::nullopt;
  return spread_candidate(context, row, true);
}

std::optional<Candidate> evaluate_first_touch(const RuleDefinition&, const RuleContext&,
                                              const RuleSubject& subject) {
  const MappingRow& row = *subject.mapping;
  if (!misplaced(row) || spread_over_nodes(row) || row.main_share < kMainUserShare) return std::nullopt;
  auto skew = first_touched_elsewhere(row);
  if (!skew) return std::nullopt;
  const std::string label = mapping_label(row.record, row.start);
  Candidate c{RecommendationKind::FirstTouch};
  c.title = "Initialise " + label + " on node " + std::to_string(row.main_user) + ", where it is used";
  c.evidence = percent(skew->share) + " of its pages were first touched from node " + std::to_string(skew->node) +
               " (site " + skew->site + ") but " + percent(row.main_share) + " of its accesses come from node " +
               std::to_string(row.main_user) + "; locality " + percent(*row.tally.locality());
  c.command = "first-touch the data from the threads that use it (change the initialisation at " + skew->site + ")";
  c.cost = row.tally.cost;
  c.mapping = hex(row.start);
  c.site = skew->site;
  return c;
}

std::optional<Candidate> evaluate_use_agent(const RuleDefinition& rule, const RuleContext& context, const RuleSubject&) {
  const auto& locality = context.scores.locality;
  if (context.recording.agent || !locality || *locality >= rule.threshold) return std::nullopt;
  Candidate c{RecommendationKind::UseAgent};
  c.title = "Run the program under libnumaagent.so (NUMA-spread pinning, node-local small allocations)";
  c.evidence = "program-wide locality " + percent(*locality) + " is below the " + percent(rule.threshold) +
               " AutoNUMA target (" + context.evidence.source + ")";
  c.command = "LD_PRELOAD=" + context.options.agent_library + " NUMA_AGENT_PIN=spread " + context.program;
  c.cost = context.tallies.program.cost;
  c.rank_last = true;
  return c;
}

// Threads hopping between nodes: a placement problem whatever the sampled locality says.
std::optional<Candidate> evaluate_pin_threads(const RuleDefinition& rule, const RuleContext& context, const RuleSubject&) {
  const Recording& r = context.recording;
  const AccessTallies& tallies = context.tallies;
  std::vector<int> migrating;
  double migrating_cost = 0;
  for (const auto& t : r.threads) {
    double rate = double(t.node_migrations) / lifetime_s(t, r.duration_s);
    // Where there is access evidence, a thread that carries almost none of it (a main thread that
    // only waits) is not worth pinning; without any, every hopping thread is reported.
    auto acc = tallies.by_thread.find(t.tid);
    const double thread_accesses = acc != tallies.by_thread.end() ? acc->second.accesses() : 0;
    const bool carries_accesses =
        thread_accesses > 0 && thread_accesses >= kPinMinAccessShare * tallies.program.accesses();
    if (rate > rule.threshold && (!context.scores.locality || carries_accesses)) {
      migrating.push_back(t.tid);
      if (acc != tallies.by_thread.end()) migrating_cost += acc->second.cost;
    }
  }
  if (migrating.empty()) return std::nullopt;
  Candidate c{RecommendationKind::PinThreads};
  c.title = "Pin the " + std::to_string(migrating.size()) + " thread(s) that move between nodes";
  std::string tids;
  for (std::size_t i = 0; i < migrating.size() && i < 8; ++i) tids += (i ? "," : "") + std::to_string(migrating[i]);
  c.evidence = "threads " + tids + (migrating.size() > 8 ? ",..." : "") + " migrate across nodes more than " +
               std::to_string(rule.threshold).substr(0, 3) + " times per second (program-wide " +
               std::to_string(rounded(context.scores.migrations_per_thread_second, 2)).substr(0, 4) +
               "/thread-second)";
  c.command = "LD_PRELOAD=" + context.options.agent_library + " NUMA_AGENT_PIN=spread " + context.program;
  c.cost = migrating_cost;
  c.tids = migrating;
  return c;
}

}  // namespace

const std::array<RuleDefinition, 6> kRules = {{
    {"R1-colocate", RecommendationKind::Colocate, kMappings | kThreads,
     "a mapping (or thread) with locality < threshold whose accesses come mostly (>= 80 %) from one node", 0.80,
     "Carrefour (ASPLOS'13): migrate pages when the local share is below 80 %", false, 2, evaluate_colocate},
    {"R2-interleave", RecommendationKind::Interleave, kMappings,
     "a mapping with locality < 0.80 accessed from >= 2 nodes whose per-node traffic CV > threshold", 0.35,
     "Carrefour (ASPLOS'13): interleave when per-node traffic CV > 0.35", false, 4, evaluate_interleave},
    {"R3-replicate", RecommendationKind::Replicate, kMappings,
     "as R2, and >= threshold of its sampled accesses are loads (needs PMU data sources)", 0.95,
     "Carrefour (ASPLOS'13): replicate when >= 95 % of accesses are reads", false, 3, evaluate_replicate},
    {"R4-pin-threads", RecommendationKind::PinThreads, kThreadGroup,
     "a thread migrates across nodes more than threshold times per second (where the recording has "
     "access evidence, only threads carrying >= 1 % of the sampled accesses)", 0.5,
     "numa-analyze default (no published threshold)", true, 0, evaluate_pin_threads},
    {"R5-use-agent", RecommendationKind::UseAgent, kProgram,
     "program-wide locality < threshold and the program did not run under libnumaagent.so", 0.70,
     "Linux AutoNUMA aims at 70 % local accesses", false, 5, evaluate_use_agent},
    {"R6-first-touch", RecommendationKind::FirstTouch, kMappings,
     "a mapping with locality < 0.80 whose pages were >= threshold first-touched from one node", 0.80,
     "Carrefour 80 % local threshold applied to first-touch placement", false, 1, evaluate_first_touch},
}};

std::string_view kind_name(RecommendationKind kind) {
  switch (kind) {
    case RecommendationKind::Colocate: return "colocate";
    case RecommendationKind::Interleave: return "interleave";
    case RecommendationKind::Replicate: return "replicate";
    case RecommendationKind::PinThreads: return "pin-threads";
    case RecommendationKind::UseAgent: return "use-agent";
    case RecommendationKind::FirstTouch: return "first-touch";
  }
  return "?";
}

const RuleDefinition& rule(RecommendationKind kind) {
  for (const auto& r : kRules)
    if (r.kind == kind) return r;
  throw std::logic_error("no rule for kind");
}

const MetricDefinition& metric(std::string_view id) {
  for (const auto& m : kMetrics)
    if (m.id == id) return m;
  throw std::logic_error("no metric " + std::string(id));
}

}  // namespace numa_agent::analyzer
