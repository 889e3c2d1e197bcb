// See rules.hpp. The rule table and one evaluator per rule, each beside its threshold and citation.
#include "analyzer/rules/rules.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "agent/text.hpp"
#include "analyzer/model/report.hpp"
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

std::string share_text(const ShareInterval& s) { return share_interval_text(s.value, s.low, s.high); }

// Conditions the mapping rules share.
// Remote enough to act on: sampled, not tiny, and locality below R1's threshold even at the
// interval's best end.
bool misplaced(const MappingRow& row) {
  const MappingEstimate* e = row.estimate;
  return e && e->basis == MappingBasis::Sampled && e->bytes >= kMinRecommendBytes && row.tally.remote > 0 &&
         1.0 - e->remote_share.low < rule(RecommendationKind::Colocate).threshold;
}
void set_gain(Candidate& c, const MappingRow& row) {
  c.cost = row.estimate->cost, c.cost_low = row.estimate->cost_low, c.cost_high = row.estimate->cost_high;
}
std::string remote_share_text(const MappingRow& row) { return "remote share " + share_text(row.estimate->remote_share); }

// A whole-program single-node binding halves a multi-node program's CPUs to fix its memory: it is
// offered only when the threads ran on one node, or all of them fit on `node`'s CPUs (and then the
// text says so). Returns that note ("" on one node), or nullopt when the binding is not offered.
std::optional<std::string> single_node_binding_note(const RuleContext& context, int node) {
  if (context.scores.nodes_with_threads <= 1) return std::string();
  const Recording& r = context.recording;
  const std::size_t cpus = r.machine.nodes[static_cast<std::size_t>(node)].cpus.size();
  if (r.threads.empty() || r.threads.size() > cpus) return std::nullopt;
  return "  (its " + std::to_string(r.threads.size()) + " threads ran on " +
         std::to_string(context.scores.nodes_with_threads) + " nodes but all fit on node " + std::to_string(node) +
         "'s " + std::to_string(cpus) + " CPUs)";
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
               (policy.empty() ? "unknown" : policy) + "); " + remote_share_text(row) + " (" +
               row.estimate->source + ")";
  std::string to_os = std::to_string(r.machine.nodes[static_cast<std::size_t>(row.main_user)].os_index);
  std::string from_os = page_node >= 0 ? std::to_string(r.machine.nodes[static_cast<std::size_t>(page_node)].os_index) : "all";
  const auto binding = single_node_binding_note(context, row.main_user);
  if (!binding) {
    // Threads on several nodes: move this mapping, not the program.
    char size[32];
    std::snprintf(size, sizeof size, "%.1f MiB", row.record ? double(row.record->end - row.record->start) / (1 << 20) : 0.0);
    c.command = "place this mapping on node " + to_os + " where it is allocated: numa_tonode_memory(ptr, " + size +
                ", " + to_os + ") or mbind(MPOL_BIND, node " + to_os + ")" +
                (r.mode == "attach" ? "; now: move_pages(2) on PID " + std::to_string(r.pid) + " for " + hex(row.start) +
                                          "-" + (row.record ? hex(row.record->end) : std::string("?"))
                                    : "");
  } else {
    c.command = r.mode == "attach" ? "migratepages " + std::to_string(r.pid) + " " + from_os + " " + to_os
                                   : "numactl --cpunodebind=" + to_os + " --membind=" + to_os + " -- " + context.program;
    c.command += *binding;
  }
  if (policy_pins(row)) c.command += "  (and drop the program's own " + policy + " policy for this mapping)";
  set_gain(c, row);
  c.mapping = hex(row.start);
  return c;
}

// Where the evidence is per thread only (no mapping detail): a thread whose memory is elsewhere.
std::optional<Candidate> colocate_thread(const RuleDefinition& rule, const RuleContext& context, const ThreadRecord& t) {
  if (context.evidence.per_access) return std::nullopt;
  auto it = context.tallies.by_thread.find(t.tid);
  auto est = context.fused.threads.find(t.tid);
  if (it == context.tallies.by_thread.end() || est == context.fused.threads.end() || it->second.accesses() <= 0)
    return std::nullopt;
  const ShareInterval& remote = est->second.remote_share;
  if (1.0 - remote.low >= rule.threshold) return std::nullopt;
  // The node holding most of its data: where its faults' memory is.
  std::map<int, double> by_node;
  for (const auto& v : context.evidence.program_rows)
    if (v.tid == t.tid && v.memory_node >= 0) by_node[v.memory_node] += v.local + v.remote;
  int data_node = -1;
  double most = 0;
  for (const auto& [n, v] : by_node)
    if (v > most) most = v, data_node = n;
  if (data_node < 0) return std::nullopt;
  const std::string os = std::to_string(context.recording.machine.nodes[static_cast<std::size_t>(data_node)].os_index);
  Candidate c{RecommendationKind::Colocate};
  c.title = "Run thread " + std::to_string(t.tid) + " (" + t.name + ") next to its memory on node " + std::to_string(data_node);
  c.evidence = "remote share " + share_text(remote) + " from " + est->second.source;
  const auto binding = single_node_binding_note(context, data_node);
  c.command = binding ? "numactl --cpunodebind=" + os + " --membind=" + os + " -- " + context.program + *binding
                      : "pin thread " + std::to_string(t.tid) + " to node " + os +
                            "'s CPUs (sched_setaffinity, or NUMA_AGENT_PIN under libnumaagent.so); the other threads stay where they are";
  // Its share of the program's sampled accesses, remote, at the extra latency of its faults.
  const double accesses = context.tallies.program.accesses();
  const double excess = it->second.remote > 0 ? it->second.cost / it->second.remote : 0;
  const double share = accesses > 0 ? it->second.accesses() / accesses : 0;
  c.cost = share * remote.value * excess, c.cost_low = share * remote.low * excess, c.cost_high = share * remote.high * excess;
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
  c.evidence = "accessed from " + std::to_string(row.users) + " nodes, " + remote_share_text(row) +
               ", per-node traffic CV " + std::to_string(rounded(*row.traffic_cv, 2)).substr(0, 4) +
               (replicate ? ", " + percent(load_share(row)) + " loads" : "") + " (" + row.estimate->source + ")";
  c.command = replicate ? "allocate one copy per node (numa_alloc_onnode) and have each thread read its node's copy"
                        : "numactl --interleave=all -- " + context.program;
  set_gain(c, row);
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
               std::to_string(row.main_user) + "; " + remote_share_text(row);
  c.command = "first-touch the data from the threads that use it (change the initialisation at " + skew->site + ")";
  set_gain(c, row);
  c.mapping = hex(row.start);
  c.site = skew->site;
  return c;
}

std::optional<Candidate> evaluate_use_agent(const RuleDefinition& rule, const RuleContext& context, const RuleSubject&) {
  const FusedEstimate& f = context.fused;
  // Locality below the target even at the interval's best end, and the share a measurement.
  if (context.recording.agent || !context.scores.locality || !f.remote_share || 1.0 - f.remote_share->low >= rule.threshold)
    return std::nullopt;
  Candidate c{RecommendationKind::UseAgent};
  c.title = "Run the program under libnumaagent.so (NUMA-spread pinning, node-local small allocations)";
  c.evidence = "program-wide remote share " + share_text(*f.remote_share) + ": locality is below the " +
               percent(rule.threshold) + " AutoNUMA target (" + context.evidence.source + ")";
  c.command = "LD_PRELOAD=" + context.options.agent_library + " NUMA_AGENT_PIN=spread " + context.program;
  c.cost = f.cost, c.cost_low = f.cost_low, c.cost_high = f.cost_high;
  c.rank_last = true;
  return c;
}

// A role rule for threads that name themselves: "worker-3" is one of the role "worker", matched by
// name=worker-*. None for a name the agent's rule syntax cannot carry (role names are letters,
// digits, _ - .) or that is the program's own (a thread that never named itself inherits it).
struct NamedRole {
  std::string role, glob;
};
std::optional<NamedRole> role_of_name(const std::string& name, const std::string& program_name) {
  auto word_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  };
  if (name.empty() || name == program_name || !std::all_of(name.begin(), name.end(), word_char)) return std::nullopt;
  std::string stem = name;
  while (!stem.empty() && stem.back() >= '0' && stem.back() <= '9') stem.pop_back();
  const bool numbered = stem.size() < name.size();
  std::string role = stem;
  while (!role.empty() && (role.back() == '-' || role.back() == '_' || role.back() == '.')) role.pop_back();
  if (role.empty()) return std::nullopt;
  return NamedRole{role, numbered ? stem + "*" : name};
}

// The name a thread of the program has when it never named itself: the main thread's, else the
// command's file name as the kernel keeps it (15 characters).
std::string program_thread_name(const Recording& r) {
  for (const auto& t : r.threads)
    if (t.tid == r.pid) return t.name;
  if (r.command.empty()) return "";
  const std::string& exe = r.command.front();
  return exe.substr(exe.find_last_of('/') + 1).substr(0, 15);
}

// NUMA_AGENT_RULES for the roles among `tids`: each role gets as many slots as it has threads in
// the recording, spread over the nodes with CPUs (M<node>:<k>, the k-th core of a node), and the
// roles take consecutive slots so they do not share CPUs. "" when no thread named itself.
std::string role_rules_for(const Recording& r, const std::vector<int>& tids) {
  const std::string program_name = program_thread_name(r);
  std::vector<std::pair<NamedRole, int>> roles;   // in order of first appearance, with thread counts
  for (int tid : tids)
    for (const auto& t : r.threads)
      if (t.tid == tid)
        if (auto role = role_of_name(t.name, program_name);
            role && std::none_of(roles.begin(), roles.end(), [&](const auto& e) { return e.first.glob == role->glob; }))
          roles.emplace_back(*role, 0);
  if (roles.empty()) return "";
  for (auto& [role, count] : roles)
    for (const auto& t : r.threads)
      if (auto own = role_of_name(t.name, program_name); own && own->glob == role.glob) ++count;
  std::vector<std::size_t> nodes;   // node indexes with CPUs
  for (std::size_t n = 0; n < r.machine.nodes.size(); ++n)
    if (!r.machine.nodes[n].cpus.empty()) nodes.push_back(n);
  if (nodes.empty()) return "";
  std::string rules;
  std::size_t slot = 0;
  std::map<std::string, int> role_names;   // two stems with one role name ("io-1", "io_1"): io, io.2
  for (const auto& [role, count] : roles) {
    std::string cpus;
    for (int k = 0; k < count; ++k, ++slot) {
      const std::size_t node = nodes[slot % nodes.size()];
      const std::size_t core = (slot / nodes.size()) % r.machine.nodes[node].cpus.size();
      cpus += (k ? "@M" : "M") + std::to_string(node) + ":" + std::to_string(core);
    }
    const int seen = ++role_names[role.role];
    rules += (rules.empty() ? "" : "; ") + role.role + (seen > 1 ? "." + std::to_string(seen) : "") + " name=" + role.glob +
             " cpus=" + cpus + " count=" + std::to_string(count);
  }
  return rules;
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
  // Threads that name themselves are placed by role (the name survives a library's extra thread;
  // an ordinal does not); the others by the spread policy.
  const std::string rules = role_rules_for(r, migrating);
  c.command = "LD_PRELOAD=" + context.options.agent_library + " NUMA_AGENT_PIN=spread " +
              (rules.empty() ? "" : "NUMA_AGENT_RULES='" + rules + "' ") + context.program;
  // In fused units: the hopping threads' remote cost as a share of all sampled accesses.
  const double accesses = tallies.program.accesses();
  c.cost = c.cost_low = c.cost_high = accesses > 0 ? migrating_cost / accesses : 0;
  c.tids = migrating;
  return c;
}

}  // namespace

const std::array<RuleDefinition, 6> kRules = {{
    {"R1-colocate", RecommendationKind::Colocate, kMappings | kThreads,
     "a mapping of >= 1 MiB (or a thread) whose locality is < threshold over its whole 95 % interval and whose "
     "accesses come mostly (>= 80 %) from one node", 0.80,
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
     "program-wide locality < threshold over its whole 95 % interval (and measured, not unknown) and the program "
     "did not run under libnumaagent.so", 0.70,
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
