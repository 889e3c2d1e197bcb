// Synthetic two-node recordings for the placement-plan tests: one anonymous 8 MiB mapping per
// scenario, first-touched at a site of a given module and accessed by threads on given nodes.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/plan.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::test {

struct Toucher {
  int tid, node;           // node index of the touching CPU (and of the pages it placed)
  std::uint64_t pages;
};
struct Accessor {
  int tid, cpu_node, memory_node;
  std::uint64_t count;
};
struct Scenario {
  std::string site;        // "module+0xoffset"
  std::string key;         // "<build-id>+0xoffset"
  std::string module;      // path
  std::uint64_t offset = 0;
  std::uint64_t bytes = 8u << 20;
  std::vector<Toucher> touchers;
  std::vector<Accessor> accessors;
};

// A scenario first-touched at `offset` of `module_path` (build-id `build_id`), named as a
// recording names it ("name+0xoffset", key "<build-id>+0xoffset").
inline Scenario scenario_at(const std::string& module_path, const std::string& build_id, std::uint64_t offset) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "+0x%llx", static_cast<unsigned long long>(offset));
  Scenario s;
  s.site = module_path.substr(module_path.rfind('/') + 1) + hex;
  s.key = build_id + hex;
  s.module = module_path;
  s.offset = offset;
  return s;
}

// Threads 100 (main, first seen at 0 s) and 101..104 (first seen in that order).
inline analyzer::Recording two_node_recording(const std::vector<Scenario>& scenarios, int nodes = 2) {
  analyzer::Recording r;
  r.mode = "launch";
  r.command = {"plan-test"};
  r.duration_s = 1;
  r.machine.numa_balancing = 1;   // the accesses below are hint faults
  for (int n = 0; n < nodes; ++n) {
    r.machine.nodes.push_back({n, {2 * n, 2 * n + 1}, 1u << 30});
    r.machine.distances.emplace_back(std::size_t(nodes), 21u);
    r.machine.distances.back()[std::size_t(n)] = 10;
  }
  for (int tid = 100; tid <= 104; ++tid) {
    analyzer::ThreadRecord t;
    t.tid = tid;
    t.first_seen_s = 0.01 * (tid - 100);
    t.last_seen_s = 1;
    r.threads.push_back(t);
  }
  std::uint64_t start = 0x7f0000000000;
  for (const Scenario& s : scenarios) {
    r.mappings.push_back({start, start + s.bytes, "", "default", 4, {}});
    for (const Toucher& t : s.touchers) r.first_touch.push_back({t.tid, t.node, t.node, start, s.site, t.pages});
    for (const Accessor& a : s.accessors)
      r.accesses.push_back({"hint-fault", a.tid, a.cpu_node, a.memory_node, start, "fault", a.count, 0, 0});
    analyzer::SiteRecord site;
    site.origin = "first-touch";
    site.frame = {s.site, s.key, s.module, s.offset, "fill", "", 0};
    site.samples = 1;
    r.sites.push_back(site);
    start += std::uint64_t{1} << 32;
  }
  return r;
}

// The scenarios by policy, touching 2048 pages (8 MiB).
inline Scenario remote_single_user(Scenario s) {   // bind: main touched on node 0, thread 101 on node 1 uses it
  s.touchers = {{100, 0, 2048}};
  s.accessors = {{101, 1, 0, 190}, {100, 0, 0, 10}};
  return s;
}
inline Scenario serial_init_sliced(Scenario s) {   // partition: main touched all, four spread workers use it
  s.touchers = {{100, 0, 2048}};
  s.accessors = {{101, 0, 0, 100}, {102, 1, 0, 100}, {103, 0, 0, 100}, {104, 1, 0, 100}};
  return s;
}
inline Scenario parallel_init_shared(Scenario s) {   // interleave: touched by two threads, read by all from both nodes
  s.touchers = {{101, 0, 1024}, {102, 1, 1024}};
  s.accessors = {{101, 0, 0, 50}, {101, 0, 1, 50}, {102, 1, 0, 50}, {102, 1, 1, 50},
                 {103, 0, 0, 50}, {103, 0, 1, 50}, {104, 1, 0, 50}, {104, 1, 1, 50}};
  return s;
}
inline Scenario well_placed(Scenario s) {   // nothing: each worker touched and uses its half
  s.touchers = {{101, 0, 1024}, {102, 1, 1024}};
  s.accessors = {{101, 0, 0, 200}, {102, 1, 1, 200}, {101, 0, 1, 5}};
  return s;
}

// The plan entry whose offset range holds `offset`, or nullptr.
inline const plan::Site* site_covering(const plan::Plan& p, std::uint64_t offset) {
  for (const auto& s : p.sites)
    if (s.offset_start <= offset && offset < s.offset_end) return &s;
  return nullptr;
}

}  // namespace numa_agent::test
