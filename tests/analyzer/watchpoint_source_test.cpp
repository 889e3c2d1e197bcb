// The watchpoint-sampling source's accounting, on sampler results written by hand: hits as access
// samples, every probe as an exposure, the probe lines, and the report's exposure-weighted share
// (access_evidence.cpp) against the sampler's own estimator (watchpoint_remote_share).
#include <catch2/catch.hpp>

#include <cerrno>
#include <map>
#include <tuple>

#include "analyzer/evidence/watchpoint_source.hpp"
#include "analyzer/rules/access_evidence.hpp"

using namespace numa_agent;
using namespace numa_agent::analyzer;

namespace {

constexpr std::uint64_t kX = 0x10000000, kY = 0x20000000;   // two mappings
constexpr std::uint64_t kMs = 1'000'000;

WatchpointSample hit(int tid, int cpu_node, int memory_node, std::uint64_t mapping, std::uint64_t time_to_hit_ns) {
  WatchpointSample s;
  s.tid = tid, s.cpu = cpu_node * 2, s.cpu_node = cpu_node, s.memory_node = memory_node;
  s.mapping = mapping, s.addr = mapping + 0x1008, s.page = mapping + 0x1000, s.ip = 0x401000;
  s.time_ns = 5'000 * kMs, s.time_to_hit_ns = time_to_hit_ns;
  return s;
}

WatchpointColdProbe cold(int tid, int memory_node, std::uint64_t mapping, std::uint64_t window_ns) {
  return {tid, memory_node, mapping + 0x2000, mapping + 0x2000, mapping, window_ns};
}

MachineInfo two_nodes() {
  MachineInfo m;
  m.nodes = {{0, {0, 1}, 1 << 30}, {1, {2, 3}, 1 << 30}};
  m.distances = {{10, 21}, {21, 10}};
  return m;
}

// A Recording as record would write it from these results: the hits aggregated the way page
// placement aggregates access samples (by source, tid, nodes, mapping), the exposures, mappings.
Recording recording_of(const std::vector<WatchpointSample>& hits, const std::vector<WatchpointColdProbe>& colds,
                       const std::map<std::uint64_t, std::uint64_t>& resident_pages) {
  Recording r;
  r.machine = two_nodes();
  std::map<std::tuple<int, int, int, std::uint64_t>, AccessBucket> buckets;
  RecordingClock clock;
  for (const auto& h : hits) {
    const AccessSample s = watchpoint_access_sample(h, clock);
    auto& b = buckets[{s.tid, r.machine.node_of_cpu(s.cpu), s.memory_node, h.mapping}];
    b = AccessBucket{std::string(s.source), s.tid, r.machine.node_of_cpu(s.cpu), s.memory_node, h.mapping,
                     std::string(s.mem_class), b.count + 1, 0, 0};
  }
  for (auto& [key, b] : buckets) r.accesses.push_back(b);
  r.exposures = watchpoint_exposures(hits, colds);
  for (const auto& [start, pages] : resident_pages) {
    MappingRecord m;
    m.start = start, m.end = start + pages * 4096, m.page_kb = 4;
    m.pages_by_node[0] = pages;
    r.mappings.push_back(m);
  }
  return r;
}

double reported_remote_share(const Recording& r) {
  const AccessEvidence evidence = gather_evidence(r);
  REQUIRE(evidence.source == "watchpoint-sampling");
  const auto locality = aggregate_accesses(evidence).program.locality();
  REQUIRE(locality);
  return 1.0 - *locality;
}

}  // namespace

TEST_CASE("a hit becomes an access sample with its nodes known") {
  const AccessSample s = watchpoint_access_sample(hit(7, 1, 0, kX, 3 * kMs), RecordingClock{});
  CHECK(s.source == "watchpoint");
  CHECK(s.mem_class == "hit");
  CHECK(s.tid == 7);
  CHECK(s.cpu == 2);
  CHECK(s.memory_node == 0);
  CHECK(s.addr == kX + 0x1008);
  CHECK(s.ip == 0x401000);
  CHECK_FALSE(s.first_touch);
}

TEST_CASE("every probe, hit or cold, lands in one exposure by thread, memory node and mapping") {
  const std::vector<WatchpointSample> hits = {hit(1, 0, 0, kX, 2 * kMs), hit(1, 0, 0, kX, 4 * kMs), hit(1, 0, 1, kY, 0),
                                              hit(2, 1, 1, kY, 10 * kMs)};
  const std::vector<WatchpointColdProbe> colds = {cold(1, 0, kX, 50 * kMs), cold(2, 1, kY, 80 * kMs),
                                                  cold(2, 0, kX, 80 * kMs), cold(2, -1, 0, 80 * kMs)};
  const auto exposures = watchpoint_exposures(hits, colds);
  std::map<std::tuple<int, int, std::uint64_t>, ExposureBucket> by;
  std::uint64_t probes = 0, hit_count = 0;
  for (const auto& e : exposures) {
    CHECK(e.source == "watchpoint");
    CHECK(by.emplace(std::tuple{e.tid, e.memory_node, e.mapping}, e).second);   // one bucket per key
    probes += e.probes, hit_count += e.hits;
  }
  CHECK(probes == hits.size() + colds.size());
  CHECK(hit_count == hits.size());
  REQUIRE(by.size() == 5);
  const ExposureBucket& x = by.at({1, 0, kX});
  CHECK(x.probes == 3);
  CHECK(x.hits == 2);
  CHECK(x.window_ns == 56 * kMs);   // the times to hit, then the cold window
  CHECK(by.at({1, 1, kY}).window_ns == 1);   // a hit at once still counts as armed
  CHECK(by.at({2, 1, kY}).window_ns == 90 * kMs);
  CHECK(by.at({2, 0, kX}).hits == 0);
  CHECK(by.at({2, -1, 0}).probes == 1);   // unresolved node and mapping are kept, not dropped
}

TEST_CASE("the probe line gives probes, hits, cold, rate and refusals, or why it could not start") {
  WatchpointCounters c;
  c.threads_attached = 3;
  c.probes_per_second = 1250;
  c.path = WatchPath::Reopen;
  c.self_test.trap_ns = 3500;
  EvidenceProbe used = watchpoint_used_probe(c, 40, 160);
  CHECK(used.source == "watchpoint-sampling");
  CHECK(used.used);
  CHECK(used.error == 0);
  CHECK(used.detail.find("200 probes on 3 threads: 40 hits, 160 cold, at 1250 probes/s") != std::string::npos);
  CHECK(used.detail.find("3.5 us per trap") != std::string::npos);

  c.refused_by_errno[ENOSPC] = 2;
  EvidenceProbe partly = watchpoint_used_probe(c, 40, 160);
  CHECK(partly.used);
  CHECK(partly.error_name == "ENOSPC");
  CHECK(partly.detail.find("refused: 2 x ENOSPC (no free debug register") != std::string::npos);

  EvidenceProbe none = watchpoint_used_probe(c, 0, 0);
  CHECK_FALSE(none.used);
  CHECK(none.detail.rfind("no probe completed", 0) == 0);

  EvidenceProbe refused = watchpoint_refused_probe({EACCES, "hardware watchpoints unavailable: perf_event_open: not permitted"}, 3);
  CHECK_FALSE(refused.used);
  CHECK(refused.error_name == "EACCES");
  CHECK(refused.detail.find("perf_event_paranoid 3") != std::string::npos);
  CHECK(watchpoint_refused_probe({ESRCH, "gone"}, -99).detail == "gone");
}

TEST_CASE("the report weights hits by exposure: a thread's share is what it touches per resident byte") {
  // Thread 1 hits its local mapping X within 1 ms of every aim and the remote mapping Y only after
  // long windows: as many hits each, but X is touched ~100 times as often per word.
  std::vector<WatchpointSample> hits;
  std::vector<WatchpointColdProbe> colds;
  for (int i = 0; i < 20; ++i) hits.push_back(hit(1, 0, 0, kX, kMs)), hits.push_back(hit(1, 0, 1, kY, 50 * kMs));
  for (int i = 0; i < 20; ++i) colds.push_back(cold(1, 1, kY, 50 * kMs));
  const std::map<std::uint64_t, std::uint64_t> pages = {{kX, 1000}, {kY, 1000}};
  const Recording r = recording_of(hits, colds, pages);
  const double share = reported_remote_share(r);
  CHECK(share < 0.05);   // the raw hit share would be 0.5

  // The same estimator as the sampler's (validated in guests), given the prior the report takes:
  // the longest mean window of an exposure bucket.
  double prior = 0;
  for (const auto& e : r.exposures) prior = std::max(prior, double(e.window_ns) / double(e.probes));
  std::map<std::uint64_t, std::uint64_t> bytes;
  for (const auto& [start, n] : pages) bytes[start] = n * 4096;
  CHECK(share == Approx(watchpoint_remote_share(hits, colds, bytes, static_cast<std::uint64_t>(prior))).epsilon(1e-6));

  // Resident bytes weigh too: the remote mapping 100 times larger evens the two out.
  const double evened = reported_remote_share(recording_of(hits, colds, {{kX, 100}, {kY, 3000}}));
  CHECK(evened > 0.3);
  CHECK(evened < 0.7);

  // The rows sum to the hits (the report counts them as samples).
  double total = 0;
  for (const auto& v : gather_evidence(r).rows) total += v.total;
  CHECK(total == Approx(double(hits.size())));
}

TEST_CASE("two threads: each one's share follows its own hits, the program's their exposure-weighted sum") {
  std::vector<WatchpointSample> hits;
  std::vector<WatchpointColdProbe> colds;
  for (int i = 0; i < 30; ++i) hits.push_back(hit(1, 0, 0, kX, 2 * kMs));   // all local
  for (int i = 0; i < 30; ++i) hits.push_back(hit(2, 1, 0, kX, 2 * kMs));   // all remote
  const Recording r = recording_of(hits, colds, {{kX, 4096}});
  const AccessTallies t = aggregate_accesses(gather_evidence(r));
  CHECK(*t.by_thread.at(1).locality() == Approx(1.0));
  CHECK(*t.by_thread.at(2).locality() == Approx(0.0));
  CHECK(*t.program.locality() == Approx(0.5));
}

TEST_CASE("without exposures or known nodes the watchpoint rung is skipped") {
  Recording r = recording_of({hit(1, 0, 0, kX, kMs)}, {}, {{kX, 10}});
  r.exposures.clear();   // an older recording
  CHECK(gather_evidence(r).source != "watchpoint-sampling");
  Recording unresolved = recording_of({hit(1, 0, -1, kX, kMs)}, {}, {{kX, 10}});
  CHECK(gather_evidence(unresolved).source != "watchpoint-sampling");
}
