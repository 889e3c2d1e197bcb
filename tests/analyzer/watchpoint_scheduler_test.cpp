// The watchpoint scheduler's pure logic (weighting, windows, churn, rate), the decoding of a
// breakpoint sample, and the sampler's pure helpers (regions, buckets, remote share).
#include <catch2/catch.hpp>

#include <cerrno>
#include <cmath>
#include <map>
#include <set>

#include "agent/os/breakpoint.hpp"
#include "analyzer/evidence/perf_abi.hpp"
#include "analyzer/evidence/perf_records.hpp"
#include "analyzer/evidence/watchpoint_sampler.hpp"
#include "analyzer/evidence/watchpoint_scheduler.hpp"
#include "perf_synth.hpp"

using namespace numa_agent;
using namespace numa_agent::analyzer;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

WatchpointScheduler make(double rate, std::uint64_t window_ns = 50 * kMs, bool adaptive = false, bool broadcast = false) {
  WatchSchedulerConfig c;
  c.probes_per_second = rate;
  c.window_ns = window_ns;
  c.adaptive = adaptive;
  c.broadcast = broadcast;
  c.seed = 7;
  auto s = WatchpointScheduler::create(c);
  REQUIRE(s);
  return std::move(*s);
}

const WatchRegion* region_of(const std::vector<WatchRegion>& regions, std::uint64_t addr) {
  for (const auto& r : regions)
    if (addr >= r.start && addr < r.end) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("a mapping with three times the resident bytes gets about three times the probes") {
  auto s = make(1e9);
  // B is resident three times as much as A; C is far larger but barely resident (weight: resident).
  std::vector<WatchRegion> regions = {{0x100000, 0x100000 + 400 * 4096, 100 * 4096},
                                      {0x900000, 0x900000 + 300 * 4096, 300 * 4096},
                                      {0x10000000, 0x10000000 + 100000ull * 4096, 10 * 4096}};
  s.set_regions(regions);
  for (int tid = 1; tid <= 8; ++tid) s.add_thread(tid);
  std::map<std::uint64_t, std::uint64_t> per_region;
  std::uint64_t total = 0, now = 0;
  for (int round = 0; round < 400; ++round, now += 50 * kMs) {   // every window ends: all cold, all re-aimed
    for (const auto& a : s.plan(now).aims) {
      const WatchRegion* r = region_of(regions, a.addr);
      REQUIRE(r);
      CHECK(a.addr % 8 == 0);
      CHECK(a.page == (a.addr & ~std::uint64_t(4095)));
      CHECK(&regions[a.region] == r);
      ++per_region[r->start];
      ++total;
    }
  }
  REQUIRE(total == 400u * 8 * 4);
  // Expected shares from the weights; each count within 4 standard deviations of its binomial mean.
  double weight_sum = 0;
  for (const auto& r : regions) weight_sum += double(r.resident_bytes);
  for (const auto& r : regions) {
    double p = double(r.resident_bytes) / weight_sum;
    double mean = p * double(total), sd = std::sqrt(double(total) * p * (1 - p));
    INFO("region " << std::hex << r.start << std::dec << ": " << per_region[r.start] << " of " << total << ", expected " << mean);
    CHECK(std::abs(double(per_region[r.start]) - mean) < 4 * sd);
  }
  double ratio = double(per_region[0x900000]) / double(per_region[0x100000]);
  CHECK(ratio > 2.7);
  CHECK(ratio < 3.3);
}

TEST_CASE("a probe that fires frees its slot and one that does not fire within its window is cold and re-aimed") {
  auto s = make(1e6, 50 * kMs);
  s.set_regions({{0x200000, 0x200000 + 64 * 4096, 64 * 4096}});
  s.add_thread(42);
  auto first = s.plan(1000 * kMs);
  REQUIRE(first.aims.size() == 4);   // four debug registers
  std::set<unsigned> slots;
  for (const auto& a : first.aims) {
    slots.insert(a.slot);
    CHECK(a.tid == 42);
  }
  CHECK(slots == std::set<unsigned>{0, 1, 2, 3});
  CHECK(s.armed_probes() == 4);

  auto h = s.hit(42, first.aims[0].addr, 3, 1003 * kMs);
  REQUIRE(h);
  CHECK(h->tid == 42);
  CHECK(h->cpu == 3);
  CHECK(h->page == first.aims[0].page);
  CHECK(h->time_to_hit_ns == 3 * kMs);
  CHECK_FALSE(s.hit(42, first.aims[0].addr, 3, 1004 * kMs));   // one-shot: a second sample is late
  CHECK(s.counters().late == 1);

  auto second = s.plan(1010 * kMs);
  CHECK(second.cold.empty());
  REQUIRE(second.aims.size() == 1);
  CHECK(second.aims[0].slot == first.aims[0].slot);

  auto third = s.plan(1050 * kMs);   // the three untouched probes' windows end now
  REQUIRE(third.cold.size() == 3);
  for (const auto& c : third.cold) {
    CHECK(c.tid == 42);
    CHECK(c.window_ns == 50 * kMs);
    CHECK(c.addr != first.aims[0].addr);
  }
  CHECK(third.aims.size() == 3);
  CHECK(third.release.empty());
  CHECK(s.counters().cold == 3);
  CHECK(s.counters().hits == 1);
  // A sample of a probe that already went cold is late, not a hit.
  CHECK_FALSE(s.hit(42, third.cold[0].addr, 0, 1051 * kMs));
}

TEST_CASE("cold slots the rate does not let us re-aim are released for disarming") {
  auto s = make(1, 10 * kMs);   // one probe per second, burst of one
  s.set_regions({{0x200000, 0x200000 + 16 * 4096, 16 * 4096}});
  s.add_thread(7);
  auto first = s.plan(0);
  REQUIRE(first.aims.size() == 1);
  auto later = s.plan(20 * kMs);   // window over; 0.02 tokens
  REQUIRE(later.cold.size() == 1);
  CHECK(later.aims.empty());
  REQUIRE(later.release.size() == 1);
  CHECK(later.release[0].tid == 7);
  CHECK(later.release[0].slot == first.aims[0].slot);
  CHECK(s.counters().rate_limited > 0);
}

TEST_CASE("thread churn: a new thread is armed, an exited thread's probes are dropped") {
  auto s = make(1e6);
  s.set_regions({{0x400000, 0x400000 + 32 * 4096, 32 * 4096}});
  s.add_thread(10);
  s.add_thread(11);
  auto p = s.plan(0);
  std::map<int, int> per_tid;
  for (const auto& a : p.aims) ++per_tid[a.tid];
  CHECK(per_tid == std::map<int, int>{{10, 4}, {11, 4}});
  std::uint64_t gone_addr = 0;
  for (const auto& a : p.aims)
    if (a.tid == 11) gone_addr = a.addr;
  s.remove_thread(11);
  CHECK(s.counters().dropped == 4);
  CHECK(s.counters().threads_removed == 1);
  CHECK_FALSE(s.has_thread(11));
  CHECK_FALSE(s.hit(11, gone_addr, 0, kMs));
  s.add_thread(12);
  auto q = s.plan(kMs);
  REQUIRE(q.aims.size() == 4);
  for (const auto& a : q.aims) CHECK(a.tid == 12);
  CHECK(s.armed_probes() == 8);
}

TEST_CASE("the rate limit bounds new probes per second, shared fairly by the threads") {
  const double rate = 100;
  auto s = make(rate, 50 * kMs);
  s.set_regions({{0x400000, 0x400000 + 256 * 4096, 256 * 4096}});
  for (int tid = 1; tid <= 10; ++tid) s.add_thread(tid);
  std::map<int, std::uint64_t> per_tid;
  std::uint64_t aims = 0;
  const std::uint64_t seconds = 10;
  for (std::uint64_t now = 0; now <= seconds * 1000 * kMs; now += kMs) {
    for (const auto& a : s.plan(now).aims) {
      ++aims, ++per_tid[a.tid];
      REQUIRE(s.hit(a.tid, a.addr, 0, now));   // every probe fires at once: the hottest case
    }
  }
  const double burst = std::max(1.0, rate * 0.1);
  CHECK(double(aims) <= rate * seconds + burst + 1);
  CHECK(double(aims) >= 0.95 * rate * seconds);
  CHECK(s.counters().rate_limited > 0);
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& [tid, n] : per_tid) lo = std::min(lo, n), hi = std::max(hi, n);
  CHECK(per_tid.size() == 10);
  CHECK(hi - lo <= 1);
}

TEST_CASE("refused and non-resident aims free their slot and retarget stays in the region") {
  auto s = make(1e6);
  std::vector<WatchRegion> regions = {{0x400000, 0x400000 + 8 * 4096, 8 * 4096}, {0x800000, 0x800000 + 8 * 4096, 8 * 4096}};
  s.set_regions(regions);
  s.add_thread(5);
  auto p = s.plan(0);
  REQUIRE(p.aims.size() == 4);
  for (int i = 0; i < 50; ++i) {
    WatchAim next = s.retarget(p.aims[0]);
    CHECK(region_of(regions, next.addr) == &regions[p.aims[0].region]);
    CHECK(next.slot == p.aims[0].slot);
    p.aims[0] = next;
  }
  s.not_resident(p.aims[0]);
  s.refused(p.aims[1]);
  CHECK(s.armed_probes() == 2);
  CHECK(s.counters().not_resident == 1);
  CHECK(s.counters().refused == 1);
  CHECK(s.plan(kMs).aims.size() == 2);
}

TEST_CASE("no regions give no aims and a bad configuration is refused with a reason") {
  auto s = make(1e6);
  s.add_thread(1);
  CHECK(s.plan(0).aims.empty());
  s.set_regions({{0x1000, 0x1800, 4096}});   // less than one page: unusable
  CHECK(s.regions().empty());

  WatchSchedulerConfig bad;
  bad.probes_per_second = 0;
  auto r = WatchpointScheduler::create(bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == EINVAL);
  CHECK(r.error().what.find("probes per second") != std::string::npos);
  bad.probes_per_second = 10;
  bad.page_bytes = 3000;
  CHECK_FALSE(WatchpointScheduler::create(bad));
  bad.page_bytes = 4096;
  bad.slots_per_thread = 0;
  CHECK_FALSE(WatchpointScheduler::create(bad));
}

TEST_CASE("the default rate keeps rate x trap cost at the budget") {
  CHECK(default_probe_rate(3500, 0.02) * 3500 / 1e9 == Approx(0.02));
  CHECK(default_probe_rate(17800) * 17800 / 1e9 == Approx(0.02));
  CHECK(default_probe_rate(0) == 0);
}

TEST_CASE("a synthetic breakpoint sample decodes back to its fields") {
  namespace abi = perf_abi;
  // The layout the kernel writes for sample_type IP|TID|TIME|ADDR|CPU, in that order.
  REQUIRE(os::kBreakpointSampleType == (abi::kSampleIp | abi::kSampleTid | abi::kSampleTime | abi::kSampleAddr | abi::kSampleCpu));
  std::string bytes = test::RecordBytes()
                          .u64(0x401234)            // ip
                          .u32(1000).u32(1002)      // pid, tid
                          .u64(123456789012ull)     // time
                          .u64(0x7f0000001238ull)   // addr: the watched word
                          .u32(3).u32(0)            // cpu, res
                          .finish(abi::kRecordSample);
  bytes += test::RecordBytes().u64(5).u64(2).finish(abi::kRecordLost);
  DecodeResult d = decode_records(bytes, os::kBreakpointSampleType);
  REQUIRE_FALSE(d.error.has_value());
  CHECK(d.consumed == bytes.size());
  REQUIRE(d.records.size() == 2);
  const auto* s = std::get_if<SampleRecord>(&d.records[0]);
  REQUIRE(s);
  CHECK(s->ip == 0x401234);
  CHECK(s->pid == 1000);
  CHECK(s->tid == 1002);
  CHECK(s->time == 123456789012ull);
  CHECK(s->addr == 0x7f0000001238ull);
  CHECK(s->cpu == 3);
  const auto* lost = std::get_if<LostRecord>(&d.records[1]);
  REQUIRE(lost);
  CHECK(lost->lost == 2);
  // A truncated sample is left for the next drain, not misread.
  DecodeResult partial = decode_records(std::string_view(bytes).substr(0, 20), os::kBreakpointSampleType);
  CHECK(partial.records.empty());
  CHECK(partial.consumed == 0);
}

TEST_CASE("watch regions: writable mappings weighted by resident bytes from numa_maps") {
  auto maps = parse_maps(
      "00400000-00401000 r-xp 00000000 08:01 100 /usr/bin/prog\n"
      "00600000-00602000 rw-p 00000000 08:01 100 /usr/bin/prog\n"
      "01000000-01100000 rw-p 00000000 00:00 0 [heap]\n"
      "7f0000000000-7f0004000000 rw-p 00000000 00:00 0 \n"
      "7f0010000000-7f0010001000 rw-p 00000000 00:00 0 \n"
      "7ffd00000000-7ffd00002000 r--p 00000000 00:00 0 [vvar]\n"
      "7ffd00002000-7ffd00004000 rw-p 00000000 00:00 0 [vdso]\n");
  auto numa = parse_numa_maps(
      "00400000 default file=/usr/bin/prog mapped=1 N0=1 kernelpagesize_kB=4\n"
      "00600000 default file=/usr/bin/prog anon=2 dirty=2 N0=2 kernelpagesize_kB=4\n"
      "01000000 default heap anon=16 dirty=16 N0=10 N1=6 kernelpagesize_kB=4\n"
      "7f0000000000 bind:1 anon=16384 dirty=16384 N1=16384 kernelpagesize_kB=4\n"
      "7ffd00002000 default\n");
  auto regions = watch_regions(maps, numa);
  REQUIRE(regions.size() == 3);   // not r-x, not unresident, not [vvar]/[vdso], not absent from numa_maps
  CHECK(regions[0].start == 0x600000);
  CHECK(regions[0].resident_bytes == 2 * 4096);
  CHECK(regions[1].start == 0x1000000);
  CHECK(regions[1].resident_bytes == 16 * 4096);
  CHECK(regions[2].start == 0x7f0000000000);
  CHECK(regions[2].end == 0x7f0004000000);
  CHECK(regions[2].resident_bytes == 16384ull * 4096);
}

TEST_CASE("watchpoint hits become access buckets and a remote share") {
  std::vector<WatchpointSample> hits = {
      {.tid = 1, .cpu = 0, .cpu_node = 0, .memory_node = 0, .mapping = 0x1000},
      {.tid = 1, .cpu = 0, .cpu_node = 0, .memory_node = 0, .mapping = 0x1000},
      {.tid = 1, .cpu = 1, .cpu_node = 0, .memory_node = 1, .mapping = 0x1000},
      {.tid = 2, .cpu = 2, .cpu_node = 1, .memory_node = 0, .mapping = 0x2000},
      {.tid = 2, .cpu = 2, .cpu_node = 1, .memory_node = -1, .mapping = 0x2000},   // unresolved: not counted
  };
  auto buckets = watchpoint_access_buckets(hits);
  REQUIRE(buckets.size() == 4);
  std::uint64_t total = 0;
  for (const auto& b : buckets) {
    CHECK(b.source == "watchpoint");
    CHECK(b.mem_class == "hit");
    total += b.count;
    if (b.tid == 1 && b.memory_node == 0) CHECK(b.count == 2);
  }
  CHECK(total == 5);
  CHECK(watchpoint_remote_share(hits) == Approx(0.5));
  CHECK(watchpoint_remote_share({}) == -1);
}

TEST_CASE("the re-aim path is parsed strictly") {
  CHECK(parse_watch_path("modify") == WatchPath::Modify);
  CHECK(parse_watch_path("reopen") == WatchPath::Reopen);
  CHECK(parse_watch_path("auto") == WatchPath::Auto);
  CHECK_FALSE(parse_watch_path("Modify"));
  CHECK_FALSE(parse_watch_path(""));
  CHECK(watch_path_name(WatchPath::Reopen) == "reopen");
}

TEST_CASE("the remote share weights each hit by its group's access rate, hits over exposure") {
  // Thread 1 reads local mapping A every 100 ms, thread 2 remote mapping B (as large) every
  // 300 ms: 1/4 of the accesses are remote. With windows longer than both periods every probe
  // hits; the times to hit (uniform over the period: mean 50 ms and 150 ms) carry the rates.
  const std::map<std::uint64_t, std::uint64_t> bytes = {{0x1000, 1 << 20}, {0x2000, 1 << 20}, {0x3000, 4096}};
  std::vector<WatchpointSample> hits;
  std::vector<WatchpointColdProbe> cold;
  for (int i = 0; i < 100; ++i) {
    hits.push_back({.tid = 1, .cpu_node = 0, .memory_node = 0, .mapping = 0x1000, .time_to_hit_ns = 50 * kMs});
    hits.push_back({.tid = 2, .cpu_node = 1, .memory_node = 0, .mapping = 0x2000, .time_to_hit_ns = 150 * kMs});
    cold.push_back({.tid = 1, .memory_node = 0, .mapping = 0x2000, .window_ns = 500 * kMs});   // each leaves the other's alone
    cold.push_back({.tid = 2, .memory_node = 0, .mapping = 0x1000, .window_ns = 500 * kMs});
  }
  CHECK(watchpoint_remote_share(hits) == Approx(0.5));                // hit counts alone
  CHECK(watchpoint_remote_share(hits, cold, bytes) == Approx(0.25));  // weighted by rate
  // One lucky early hit of thread 2 on a one-page mapping: alone, it stands for a rate of 1 / 1 ms
  // on that page; with one more cold window of prior exposure, for 1 / 501 ms.
  hits.push_back({.tid = 2, .cpu_node = 1, .memory_node = 1, .mapping = 0x3000, .time_to_hit_ns = 1 * kMs});
  const double a = 100.0 / (5000 + 500) * 200 * (1 << 20), b = 100.0 / (15000 + 500) * 201 * (1 << 20), page = 1.0 / 501 * 201 * 4096;
  CHECK(watchpoint_remote_share(hits, cold, bytes, 500 * kMs) == Approx(b / (a + b + page)));
  CHECK(watchpoint_remote_share(hits, cold, bytes, 500 * kMs) == Approx(0.25).margin(0.03));
  // Half of thread 2's probes of B go cold instead: its rate is 50 hits over 50 x 150 + 50 x 500 ms.
  hits.pop_back();
  std::erase_if(hits, [n = 0](const WatchpointSample& h) mutable { return h.tid == 2 && n++ < 50; });
  for (int i = 0; i < 50; ++i) cold.push_back({.tid = 2, .memory_node = 0, .mapping = 0x2000, .window_ns = 500 * kMs});
  REQUIRE(hits.size() == 150);
  const double local = 10.0 / (10 * 50.0), remote = 5.0 / (5 * 150.0 + 5 * 500.0);   // per word; both threads 200 probes
  CHECK(watchpoint_remote_share(hits, cold, bytes) == Approx(remote / (remote + local)));
  CHECK(watchpoint_remote_share({}) == -1);
}

TEST_CASE("the adaptive window follows the times to hit, within its bounds") {
  auto s = make(1e6, 1000 * kMs, true);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  s.add_thread(1);
  CHECK(s.window_ns() == 1000 * kMs);   // nothing seen yet: the bound
  std::uint64_t now = 0;
  // Hits after 1..10 ms: 4 x the 90th percentile (10 ms) is 40 ms.
  for (int i = 0; i < 64; ++i, now += 20 * kMs) {
    auto p = s.plan(now);
    for (const auto& a : p.aims) REQUIRE(s.hit(a.tid, a.addr, 0, now + (1 + i % 10) * kMs));
  }
  CHECK(s.window_ns() == 40 * kMs);
  auto p = s.plan(now);
  REQUIRE_FALSE(p.aims.empty());
  auto q = s.plan(now + 40 * kMs);   // windows of 40 ms end
  CHECK(q.cold.size() == p.aims.size());
  for (const auto& c : q.cold) CHECK(c.window_ns == 40 * kMs);
  // Hits within microseconds: the floor.
  for (int i = 0; i < 64; ++i, now += kMs) {
    for (const auto& a : s.plan(now + 100 * kMs).aims) REQUIRE(s.hit(a.tid, a.addr, 0, now + 100 * kMs + 1000));
  }
  CHECK(s.window_ns() == kMinWindowNs);
}

namespace {
WatchpointScheduler make_broadcast(double rate, std::uint64_t window_ns = 50 * kMs) { return make(rate, window_ns, false, true); }
}  // namespace

TEST_CASE("broadcast: each slot watches one word on every thread and the first to touch it wins it") {
  auto s = make_broadcast(1e6);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  for (int tid : {10, 11, 12}) s.add_thread(tid);
  auto p = s.plan(0);
  REQUIRE(p.aims.size() == 12);   // 4 words x 3 threads
  std::map<unsigned, std::set<std::uint64_t>> words;
  std::map<unsigned, std::set<int>> threads;
  for (const auto& a : p.aims) words[a.slot].insert(a.addr), threads[a.slot].insert(a.tid);
  REQUIRE(words.size() == 4);
  for (const auto& [slot, w] : words) CHECK(w.size() == 1);
  for (const auto& [slot, t] : threads) CHECK(t == std::set<int>{10, 11, 12});
  CHECK(s.counters().aims == 4);   // one token per word, not per thread

  // Thread 11 touches slot 0's word after 5 ms: its hit, and a grace of 5 ms more begins. 12 touches
  // it within the grace (a consumer after its producer): a hit too. 10 does not: when the grace ends
  // it is cold for the 10 ms it was armed, and a sample of it from after that is late.
  const std::uint64_t word = *words[0].begin();
  auto h = s.hit(11, word, 3, 5 * kMs);
  REQUIRE(h);
  CHECK(h->time_to_hit_ns == 5 * kMs);
  CHECK_FALSE(s.hit(11, word, 3, 6 * kMs));   // 11's next touch is no second hit
  auto h12 = s.hit(12, word, 0, 7 * kMs);
  REQUIRE(h12);
  CHECK(h12->time_to_hit_ns == 7 * kMs);
  auto mid = s.plan(8 * kMs);   // 10 is still armed and the grace lasts until 10 ms
  CHECK(mid.cold.empty());
  CHECK(mid.aims.empty());
  std::set<int> disarmed;
  for (const auto& r : mid.release) {
    CHECK(r.slot == 0);
    disarmed.insert(r.tid);
  }
  CHECK(disarmed == std::set<int>{11, 12});   // fired: their events would trap on every touch
  CHECK_FALSE(s.hit(10, word, 0, 11 * kMs));
  CHECK(s.counters().late == 2);
  auto q = s.plan(12 * kMs);
  std::map<int, std::uint64_t> cold_for;
  for (const auto& c : q.cold) {
    CHECK(c.addr == word);
    cold_for[c.tid] = c.window_ns;
  }
  CHECK(cold_for == std::map<int, std::uint64_t>{{10, 10 * kMs}});
  CHECK(s.counters().cold == 0);   // the probe was hit: no window ended empty
  // Slot 0 is aimed again on all three threads at one new word; the others still watch theirs.
  std::set<int> reaimed;
  std::set<std::uint64_t> new_words;
  for (const auto& a : q.aims) {
    CHECK(a.slot == 0);
    reaimed.insert(a.tid), new_words.insert(a.addr);
  }
  CHECK(reaimed == std::set<int>{10, 11, 12});
  CHECK(new_words.size() == 1);
  CHECK(q.release.empty());   // re-aimed in the same plan: modified, not disarmed
}

TEST_CASE("broadcast: a word nobody touches is cold on every thread, a new thread joins armed words") {
  auto s = make_broadcast(1e6, 50 * kMs);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  s.add_thread(10);
  auto p = s.plan(0);
  REQUIRE(p.aims.size() == 4);
  s.add_thread(20);   // starts while the four words are watched
  auto q = s.plan(10 * kMs);
  REQUIRE(q.aims.size() == 4);
  for (const auto& a : q.aims) CHECK(a.tid == 20);
  CHECK(s.counters().aims == 4);   // joining costs no token
  auto r = s.plan(50 * kMs);       // the windows end
  std::map<int, std::uint64_t> cold_ns;
  for (const auto& c : r.cold) cold_ns[c.tid] += c.window_ns;
  CHECK(cold_ns[10] == 4 * 50 * kMs);
  CHECK(cold_ns[20] == 4 * 40 * kMs);   // armed 10 ms later
  CHECK(s.counters().cold == 4);
}

TEST_CASE("broadcast: a retarget moves the word of every thread, a non-resident word drops the probe") {
  auto s = make_broadcast(1e6);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  s.add_thread(1);
  s.add_thread(2);
  auto p = s.plan(0);
  WatchAim first;
  for (const auto& a : p.aims)
    if (a.slot == 1 && a.tid == 1) first = a;
  const WatchAim moved = s.retarget(first);
  CHECK(moved.addr >= 0x400000);
  CHECK(moved.addr < 0x400000 + 64 * 4096);
  if (moved.addr != first.addr) {
    CHECK(s.hit(2, moved.addr, 0, kMs));   // thread 2's slot follows the new word
  }
  s.not_resident(p.aims.front());
  const unsigned dropped_slot = p.aims.front().slot;
  auto q = s.plan(2 * kMs);
  std::set<int> reaimed;
  for (const auto& a : q.aims)
    if (a.slot == dropped_slot) reaimed.insert(a.tid);
  CHECK(reaimed == std::set<int>{1, 2});
}

TEST_CASE("times to hit and exposures count from when a breakpoint was armed, not from the plan") {
  // A re-aim waits for an IPI per thread: in a TCG guest milliseconds, one thread after another.
  auto s = make(1e6, 50 * kMs);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  s.add_thread(1);
  auto p = s.plan(0);
  REQUIRE(p.aims.size() == 4);
  for (const auto& a : p.aims) s.armed(a, 8 * kMs);
  auto h = s.hit(1, p.aims[0].addr, 0, 20 * kMs);
  REQUIRE(h);
  CHECK(h->time_to_hit_ns == 12 * kMs);
  CHECK(s.plan(55 * kMs).cold.empty());   // armed at 8 ms: its 50 ms window ends at 58 ms
  auto q = s.plan(58 * kMs);
  REQUIRE(q.cold.size() == 3);
  for (const auto& c : q.cold) CHECK(c.window_ns == 50 * kMs);

  auto b = make_broadcast(1e6, 50 * kMs);
  b.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  b.add_thread(10);
  b.add_thread(11);
  auto bp = b.plan(0);
  std::uint64_t slot0 = 0, slot1 = 0;
  for (const auto& a : bp.aims) {
    b.armed(a, (a.tid == 10 ? 8 : 16) * kMs);
    (a.slot == 0 ? slot0 : slot1) = a.addr;
  }
  auto bh = b.hit(11, slot0, 2, 30 * kMs);   // 11 touches slot 0's word 14 ms after it was armed
  REQUIRE(bh);
  CHECK(bh->time_to_hit_ns == 14 * kMs);
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> cold;
  for (const auto& c : b.plan(50 * kMs).cold) cold[{c.tid, c.addr}] = c.window_ns;
  CHECK(cold[{10, slot0}] == 36 * kMs);   // armed from 8 ms until the grace after 11's hit ends at 44 ms
  CHECK(cold[{10, slot1}] == 42 * kMs);   // the probe ends at 50 ms for every thread
  CHECK(cold[{11, slot1}] == 34 * kMs);
}

TEST_CASE("broadcast: a word one thread always touches just before another is a hit for both") {
  // A producer writes each message and its consumer reads it a millisecond later: the first toucher
  // must not win every probe, or the consumer's remote reads vanish from the estimate.
  auto s = make_broadcast(1e6, 50 * kMs);
  s.set_regions({{0x400000, 0x400000 + 64 * 4096, 64 * 4096}});
  s.add_thread(1);
  s.add_thread(2);
  std::map<int, std::uint64_t> hits, exposure;
  std::uint64_t now = 0;
  for (int round = 0; round < 50; ++round, now += 10 * kMs) {
    auto p = s.plan(now);
    for (const auto& c : p.cold) exposure[c.tid] += c.window_ns;
    std::set<std::pair<unsigned, std::uint64_t>> probes;
    for (const auto& a : p.aims) probes.insert({a.slot, a.addr});
    for (const auto& [slot, addr] : probes)
      for (int tid : {1, 2})
        if (auto h = s.hit(tid, addr, 0, now + (tid == 1 ? 2 : 3) * kMs)) ++hits[tid], exposure[tid] += h->time_to_hit_ns;
  }
  CHECK(hits[1] >= 4 * 49);
  CHECK(hits[2] == hits[1]);
  CHECK(exposure[2] == exposure[1] + hits[1] * kMs);   // each of its probes waited 1 ms longer
}
