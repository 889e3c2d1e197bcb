// The pure parts of the recorder's evidence plumbing: the thread table the sources share (start
// and exit notifications, the migration rule of the final records), numa_maps -> MappingRecord,
// and the CPU -> node table.
#include <catch2/catch.hpp>

#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/thread_table.hpp"

using namespace numa_agent::analyzer;

namespace {

MachineInfo two_nodes() {
  MachineInfo m;
  m.nodes = {{4, {0, 2}, 1ULL << 30}, {7, {1, 3}, 1ULL << 30}};   // OS node numbers 4 and 7
  m.distances = {{10, 21}, {21, 10}};
  return m;
}

}  // namespace

TEST_CASE("thread table: starts and exits arrive once, in the next change set") {
  RecordingClock clock;
  clock.start();
  ThreadTable threads(clock);
  threads.at(10);
  threads.at(11);
  threads.at(10);   // known: no second start
  auto first = threads.take_changes();
  CHECK(first.started == std::vector<int>{10, 11});
  CHECK(first.exited.empty());
  threads.mark_exited(11);
  threads.mark_exited(11);
  threads.mark_exited(99);   // never seen: nothing to report
  auto second = threads.take_changes();
  CHECK(second.started.empty());
  CHECK(second.exited == std::vector<int>{11});
  CHECK(threads.live_tids() == std::vector<int>{10});
  CHECK(threads.take_changes().exited.empty());
}

TEST_CASE("thread records: migrations from samples when sampled, else from sched and polls") {
  RecordingClock clock;
  clock.start();
  ThreadTable threads(clock);
  ThreadEvidence& t = threads.at(5);
  t.sample_migrations = 7;
  t.sample_node_migrations = 1;
  t.poll_node_changes = 3;
  t.first_nr_migrations = 10;
  t.last_nr_migrations = 14;
  t.sample_residency[1] = 9;   // the thread was never polled: residency from samples
  threads.set_migrations_sampled(true);
  auto sampled = threads.records();
  REQUIRE(sampled.size() == 1);
  CHECK(sampled[0].cpu_migrations == 7);
  CHECK(sampled[0].node_migrations == 3);   // polls saw more node changes than samples
  CHECK(sampled[0].residency == std::map<int, std::uint64_t>{{1, 9}});
  threads.set_migrations_sampled(false);
  auto polled = threads.records();
  CHECK(polled[0].cpu_migrations == 4);     // se.nr_migrations 14 - 10
  CHECK(polled[0].node_migrations == 3);
}

TEST_CASE("thread records: ordered by first sight, then tid") {
  RecordingClock clock;
  clock.start();
  ThreadTable threads(clock);
  threads.at(30).record.first_seen_s = 2;
  threads.at(20).record.first_seen_s = 1;
  threads.at(10).record.first_seen_s = 2;
  std::vector<int> order;
  for (const auto& r : threads.records()) order.push_back(r.tid);
  CHECK(order == std::vector<int>{20, 10, 30});
}

TEST_CASE("mapping records: ends and names from maps, pages by node index") {
  NumaMapsEntry anon;
  anon.start = 0x1000;
  anon.policy = "bind:7";
  anon.pages_by_node = {{4, 2}, {7, 3}, {9, 1}};   // OS node 9 is not in the machine: dropped
  NumaMapsEntry unmapped;
  unmapped.start = 0x90000;
  unmapped.page_kb = 2048;
  unmapped.pages_by_node = {{7, 2}};
  std::vector<MapsEntry> maps{{0x1000, 0x8000, 0, "rw-p", "/lib/x.so"}};
  auto records = mapping_records({anon, unmapped}, maps, two_nodes());
  REQUIRE(records.size() == 2);
  CHECK(records[0].end == 0x8000);
  CHECK(records[0].name == "/lib/x.so");
  CHECK(records[0].policy == "bind:7");
  CHECK(records[0].pages_by_node == std::map<int, std::uint64_t>{{0, 2}, {1, 3}});
  CHECK(records[1].end == 0x90000 + 2 * 2048 * 1024);   // not in maps: from the resident pages
  CHECK(records[1].name.empty());
}

TEST_CASE("mapping records: a maps entry smaller than the resident pages (read after the range changed) does not cut the end") {
  NumaMapsEntry merged;   // a thread's stack merged with the 64 MiB block above it, then the block freed
  merged.start = 0x10000000;
  merged.pages_by_node = {{4, 2}, {7, 16385}};
  std::vector<MapsEntry> maps{{0x10000000, 0x10800000, 0, "rw-p", ""}};
  auto records = mapping_records({merged}, maps, two_nodes());
  REQUIRE(records.size() == 1);
  CHECK(records[0].end == 0x10000000 + 16387ull * 4096);
}

TEST_CASE("bucket keys: first touches, accesses and exposures inside a mapping take its start, equal ones summed") {
  Recording rec;
  rec.mappings.push_back({.start = 0x10000000, .end = 0x14802000});   // stack + block, merged
  rec.mappings.push_back({.start = 0x20000000, .end = 0x20001000});
  // The block's first touches name its own start (before the merge); a bucket outside every
  // mapping keeps its key.
  rec.first_touch.push_back({.tid = 1, .cpu_node = 0, .memory_node = 0, .mapping = 0x10800000, .site = "main", .pages = 30});
  rec.first_touch.push_back({.tid = 1, .cpu_node = 0, .memory_node = 0, .mapping = 0x10000000, .site = "main", .pages = 2});
  rec.first_touch.push_back({.tid = 1, .cpu_node = 0, .memory_node = 0, .mapping = 0x30000000, .site = "x", .pages = 1});
  rec.accesses.push_back({.source = "watchpoint", .tid = 2, .cpu_node = 1, .memory_node = 0, .mapping = 0x10000000, .count = 5});
  rec.accesses.push_back({.source = "watchpoint", .tid = 2, .cpu_node = 1, .memory_node = 0, .mapping = 0x12000000, .count = 3});
  rec.exposures.push_back({.source = "watchpoint", .tid = 2, .memory_node = 0, .mapping = 0x12000000, .probes = 4, .hits = 3, .window_ns = 10});
  key_buckets_by_mapping(rec);
  REQUIRE(rec.first_touch.size() == 2);
  CHECK(rec.first_touch[0].mapping == 0x10000000);
  CHECK(rec.first_touch[0].pages == 32);
  CHECK(rec.first_touch[1].mapping == 0x30000000);
  REQUIRE(rec.accesses.size() == 1);
  CHECK(rec.accesses[0].count == 8);
  REQUIRE(rec.exposures.size() == 1);
  CHECK(rec.exposures[0].mapping == 0x10000000);
}

TEST_CASE("cpu nodes: node index per CPU, -1 outside the machine, CPUs ascending") {
  CpuNodes nodes(two_nodes());
  CHECK(nodes.node_of(2) == 0);
  CHECK(nodes.node_of(3) == 1);
  CHECK(nodes.node_of(4) == -1);
  CHECK(nodes.node_of(-1) == -1);
  CHECK(nodes.cpus() == std::vector<int>{0, 1, 2, 3});
}
