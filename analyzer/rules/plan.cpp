// See plan.hpp.
#include "analyzer/rules/plan.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "agent/text.hpp"
#include "analyzer/rules/numbers.hpp"

namespace numa_agent::analyzer {
namespace {

using nlohmann::json;

struct MappingTouches {
  double pages = 0;
  std::map<std::string, double> by_site;
  std::map<int, double> by_tid;
};

struct MappingAccesses {
  double total = 0, remote = 0;
  std::map<int, double> by_node;                 // node index of the accessing CPU
  std::map<int, std::map<int, double>> by_tid;   // tid -> node index -> accesses
};

template <typename Map>
auto largest(const Map& m) {
  return std::max_element(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
}

std::string module_basename_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string build_id_of_key(const std::string& key) {
  const auto plus = key.find('+');
  return plus == std::string::npos ? std::string() : key.substr(0, plus);
}

// Accessing threads (>= kPlanUserShare of the mapping's accesses) in creation order, each with
// its node: the slices of a partition.
std::vector<plan::Part> partition_parts(const Recording& rec, const MappingAccesses& acc) {
  struct User {
    int tid;
    int node;
  };
  std::vector<User> users;
  for (const auto& [tid, nodes] : acc.by_tid) {   // a map: ascending tids
    double sum = 0;
    for (auto& [n, c] : nodes) sum += c;
    if (sum < kPlanUserShare * acc.total) continue;
    users.push_back({tid, largest(nodes)->first});
  }
  // Creation order is tid order: the kernel hands out thread ids in sequence (short of a wrap at
  // pid_max). Not the recorder's first sight: threads created microseconds apart are seen in the
  // order their CPUs' event rings are read, and a slice given to the wrong worker is remote.
  // Equal slices, not slices sized by each thread's sampled accesses: a few dozen samples size a
  // slice to +-10 points, and a static split (the usual loop over k workers) is equal anyway.
  std::vector<plan::Part> parts;
  double at = 0;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const double to = i + 1 == users.size() ? 1.0 : rounded(double(i + 1) / double(users.size()), 6);
    const int node = rec.machine.nodes[static_cast<std::size_t>(users[i].node)].os_index;
    if (!parts.empty() && parts.back().node == node) parts.back().to = to;   // adjacent slices, one node
    else parts.push_back({at, to, node});
    at = to;
  }
  return parts;
}

}  // namespace

plan::Plan generate_plan(const Recording& rec, const PlanInputs& in) {
  plan::Plan out;
  out.source = in.source;
  // The program's module, so that an empty plan names it too: the recorded command's file, else
  // the module of the site behind the most stacks.
  const std::string command = rec.command.empty() ? "" : module_basename_of(rec.command.front());
  const SiteRecord* program_site = nullptr;
  for (const auto& sr : rec.sites) {
    if (!sr.in_program || sr.frame.key.empty()) continue;
    const bool is_command = module_basename_of(sr.frame.module) == command;
    if (!program_site || (is_command && module_basename_of(program_site->frame.module) != command) ||
        (is_command == (module_basename_of(program_site->frame.module) == command) && sr.samples > program_site->samples))
      program_site = &sr;
  }
  if (program_site) {
    out.build_id = build_id_of_key(program_site->frame.key);
    out.program = program_site->frame.module;
  }
  if (rec.machine.nodes.size() < 2) {
    out.summary = "empty plan: the machine has one NUMA node, every access is local";
    return out;
  }
  std::map<std::string, const SiteRecord*> sites;
  for (const auto& s : rec.sites)
    if (s.origin == "first-touch") sites[s.frame.site] = &s;
  // Mappings by start, each extending over its resident pages too: the kernel merges an anonymous
  // block with an anonymous neighbour made later (a thread's stack), so its first touches name the
  // block's start while the last snapshot and later accesses name the merged mapping's, and the
  // last maps, read after the program freed the block, may give the neighbour's end alone.
  std::map<std::uint64_t, const MappingRecord*> mappings;
  for (const auto& m : rec.mappings) mappings[m.start] = &m;
  const auto extent_end = [](const MappingRecord& m) {
    std::uint64_t pages = 0;
    for (const auto& [node, n] : m.pages_by_node) pages += n;
    return std::max(m.end, m.start + pages * m.page_kb * 1024);
  };
  const auto mapping_of = [&](std::uint64_t addr) -> std::uint64_t {
    if (!addr) return 0;
    auto it = mappings.upper_bound(addr);
    if (it == mappings.begin()) return addr;
    --it;
    return addr < extent_end(*it->second) ? it->first : addr;
  };

  std::map<std::uint64_t, MappingTouches> touches;
  for (const auto& b : rec.first_touch) {
    if (!b.mapping) continue;
    auto& t = touches[mapping_of(b.mapping)];
    t.pages += double(b.pages);
    t.by_site[b.site] += double(b.pages);
    t.by_tid[b.tid] += double(b.pages);
  }
  std::map<std::uint64_t, MappingAccesses> accesses;
  for (const auto& a : rec.accesses) {
    if (!a.mapping || a.cpu_node < 0 || a.cpu_node >= int(rec.machine.nodes.size())) continue;
    auto& acc = accesses[mapping_of(a.mapping)];
    acc.total += double(a.count);
    if (a.memory_node >= 0 && a.memory_node != a.cpu_node) acc.remote += double(a.count);
    acc.by_node[a.cpu_node] += double(a.count);
    acc.by_tid[a.tid][a.cpu_node] += double(a.count);
  }

  std::map<std::string, int> left_out;   // reason -> mappings
  std::map<std::string, int> planned_per_build;
  std::vector<std::pair<std::string, plan::Site>> planned;   // build-id, site
  for (const auto& [start, touch] : touches) {
    const auto mapping = mappings.find(start);
    if (mapping == mappings.end() || !mapping->second->name.empty()) {
      ++left_out["not an anonymous mapping"];
      continue;
    }
    const MappingRecord& m = *mapping->second;
    const std::uint64_t bytes = extent_end(m) - m.start;
    if (bytes < kPlanMinBytes) {
      ++left_out["smaller than 1 MiB"];
      continue;
    }
    const auto site_name = largest(touch.by_site)->first;
    const auto site = sites.find(site_name);
    if (site == sites.end() || !site->second->in_program || site->second->frame.key.empty()) {
      ++left_out["first touched outside the program's symbolised code"];
      continue;
    }
    const MappingAccesses& acc = accesses[start];
    if (acc.total < kPlanMinAccesses) {
      ++left_out["too few sampled accesses"];
      continue;
    }
    const double remote = acc.remote / acc.total;
    if (remote < kPlanRemoteWorthIt) {
      ++left_out["mostly local already"];
      continue;
    }
    const SiteFrame& frame = site->second->frame;
    const auto range = in.function_range ? in.function_range(frame) : std::nullopt;
    if (!range) {
      ++left_out["its function's extent is unknown (no symbol table)"];
      continue;
    }
    std::vector<int> user_nodes;
    for (const auto& [node, c] : acc.by_node)
      if (c >= kPlanUserShare * acc.total) user_nodes.push_back(node);
    const auto dominant = largest(acc.by_node);
    const double serial = largest(touch.by_tid)->second / touch.pages;

    plan::Site s;
    s.site = frame.site;
    s.function = frame.function;
    s.offset_start = range->first;
    s.offset_end = range->second;
    s.size_min = kPlanMinBytes;
    // The largest block the evidence saw: the mapping, or its resident pages when the kernel merged
    // the block's mapping with a neighbour the recording saw apart.
    std::uint64_t resident = 0;
    for (const auto& [node, pages] : m.pages_by_node) resident += pages * m.page_kb * 1024;
    s.size_max = std::max(bytes, resident);
    double expected = 0;
    std::string why;
    if (dominant->second >= kPlanDominantShare * acc.total) {
      s.policy = plan::Policy::Bind;
      s.nodes = {rec.machine.nodes[std::size_t(dominant->first)].os_index};
      expected = 1 - dominant->second / acc.total;
      why = "one node makes " + percent(dominant->second / acc.total) + " of the accesses";
    } else if (in.multi_node == MultiNodePolicy::Partition ||
               (in.multi_node == MultiNodePolicy::Auto && serial >= kPlanSerialShare)) {
      s.policy = plan::Policy::Partition;
      s.parts = partition_parts(rec, acc);
      expected = 0;
      why = "one thread first-touched " + percent(serial) + " of the pages that threads on " +
            std::to_string(user_nodes.size()) + " nodes use: slices to the nodes of the threads that use them "
            "(assumes the k-th thread works on the k-th slice)";
    } else {
      s.policy = plan::Policy::Interleave;
      for (int n : user_nodes) s.nodes.push_back(rec.machine.nodes[std::size_t(n)].os_index);
      expected = 1 - 1.0 / double(user_nodes.size());
      why = "shared by threads on " + std::to_string(user_nodes.size()) + " nodes: interleaved, traffic spreads evenly";
    }
    json by_node = json::object();
    for (const auto& [node, c] : acc.by_node) by_node[std::to_string(rec.machine.nodes[std::size_t(node)].os_index)] = c;
    s.evidence = {{"key", frame.key},
                  {"mapping", text::hex(start)},
                  {"file", frame.file},
                  {"line", frame.line},
                  {"mapping_bytes", bytes},
                  {"first_touch_pages", touch.pages},
                  {"first_touch_threads", touch.by_tid.size()},
                  {"serial_first_touch_share", rounded(serial)},
                  {"accesses", acc.total},
                  {"accesses_by_node", by_node},
                  {"remote_share", rounded(remote)},
                  {"expected_remote_share", rounded(expected)},
                  {"why", why}};
    const std::string build = build_id_of_key(frame.key);
    ++planned_per_build[build];
    planned.emplace_back(build, std::move(s));
  }

  if (!planned.empty()) {
    out.build_id = largest(planned_per_build)->first;   // one module per plan: the program's
    for (auto& [build, s] : planned)
      if (build == out.build_id) out.sites.push_back(std::move(s));
      else ++left_out["in another module than the plan's"];
    for (const auto& sr : rec.sites)
      if (build_id_of_key(sr.frame.key) == out.build_id) out.program = sr.frame.module;
  }
  std::string reasons;
  for (const auto& [reason, n] : left_out)
    reasons += (reasons.empty() ? "" : "; ") + std::to_string(n) + " mapping(s) " + reason;
  if (out.sites.empty())
    out.summary = "empty plan: no allocation site needs a policy" + (reasons.empty() ? std::string(" (no first-touch evidence)") : " (" + reasons + ")");
  else
    out.summary = std::to_string(out.sites.size()) + " site(s) planned" + (reasons.empty() ? "" : "; left out: " + reasons);
  return out;
}

void offer_plan(std::vector<Candidate>& candidates, const plan::Plan& plan, const std::string& program) {
  for (const auto& site : plan.sites) {
    const auto mapping = site.evidence.find("mapping");
    if (mapping == site.evidence.end() || !mapping->is_string()) continue;
    for (auto& c : candidates) {
      if (c.mapping != mapping->get<std::string>()) continue;
      if (c.kind != RecommendationKind::Colocate && c.kind != RecommendationKind::Interleave &&
          c.kind != RecommendationKind::Replicate && c.kind != RecommendationKind::FirstTouch)
        continue;
      c.evidence += "; a placement plan applies it without a code change: " + std::string(plan::to_string(site.policy)) +
                    " for the blocks allocated in " + (site.function.empty() ? site.site : site.function) +
                    " (numa-analyze plan RECORDING -o plan.json, then NUMA_AGENT_PLAN=plan.json under the agent)";
      c.command = "numa-analyze apply -- " + program;
    }
  }
}

plan::Plan plan_for_report(const Recording& recording) {
  PlanInputs inputs;
  inputs.function_range = [](const SiteFrame& f) -> std::optional<std::pair<std::uint64_t, std::uint64_t>> {
    if (f.function.empty()) return std::nullopt;
    return std::pair{f.offset, f.offset + 1};
  };
  return generate_plan(recording, inputs);
}

}  // namespace numa_agent::analyzer
