// /proc and /sys parsers on fixtures (tests/analyzer/data: some captured on a one-node host,
// the two-node ones written from a 2-node guest's output).
#include <catch2/catch.hpp>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "analyzer/evidence/proc_parsers.hpp"

using namespace numa_agent::analyzer;

namespace {
std::string fixture(const std::string& name) {
  std::ifstream in(std::string(NUMA_ANALYZER_TEST_DATA) + "/" + name);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("task stat: field 39 is the CPU last run on, whatever the command name holds") {
  auto cat = parse_task_stat(fixture("task_stat_cat.txt"));
  REQUIRE(cat);
  CHECK(cat->tid == 7576);
  CHECK(cat->comm == "cat");
  CHECK(cat->state == 'R');
  CHECK(cat->processor == 0);
  auto weird = parse_task_stat(fixture("task_stat_weird_name.txt"));
  REQUIRE(weird);
  CHECK(weird->comm == "a (weird) name");
  CHECK(weird->processor == 5);
  CHECK_FALSE(parse_task_stat("12 (x) R 1 2"));
  CHECK_FALSE(parse_task_stat("garbage"));
}

TEST_CASE("task sched: migrations and per-node NUMA faults") {
  TaskSched s = parse_task_sched(fixture("sched_two_nodes.txt"));
  CHECK(s.nr_migrations == 17u);
  CHECK(s.current_node == 1);
  CHECK(s.preferred_node == 1);
  CHECK(s.total_numa_faults == 27904u);
  CHECK(s.numa_pages_migrated == 16384u);
  REQUIRE(s.numa_faults.size() == 2);
  CHECK(s.numa_faults[0].node == 0);
  CHECK(s.numa_faults[0].task_private == 93);
  CHECK(s.numa_faults[1].node == 1);
  CHECK(s.numa_faults[1].task_private == 27904);
  CHECK(s.numa_faults[1].task_shared == 12);
  CHECK(s.numa_faults[1].task_total() == 27916);
  TaskSched empty = parse_task_sched("");
  CHECK_FALSE(empty.nr_migrations);
  CHECK(empty.numa_faults.empty());
}

TEST_CASE("vmstat: numa counters") {
  auto v = parse_vmstat(fixture("vmstat_numa.txt"));
  CHECK(v.count("numa_hit") == 1);
  CHECK(v.count("numa_hint_faults") == 1);
  CHECK(v.count("numa_hint_faults_local") == 1);
  CHECK(v.count("numa_pages_migrated") == 1);
  auto synthetic = parse_vmstat("numa_hint_faults 636\nnuma_hint_faults_local 93\nbad line here\nx y\n");
  CHECK(synthetic.at("numa_hint_faults") == 636);
  CHECK(synthetic.at("numa_hint_faults_local") == 93);
  CHECK(synthetic.size() == 2);
}

TEST_CASE("numa_maps: pages per node, policy, names") {
  auto maps = parse_numa_maps(fixture("numa_maps_two_nodes.txt"));
  REQUIRE(maps.size() == 7);
  CHECK(maps[0].name == "/usr/bin/numa_traffic");
  CHECK(maps[0].pages_by_node.at(0) == 4);
  CHECK(maps[1].name == "[heap]");
  CHECK(maps[1].anonymous);
  CHECK(maps[1].pages_by_node.at(0) == 20);
  CHECK(maps[1].pages_by_node.at(1) == 13);
  CHECK(maps[1].total_pages() == 33);
  CHECK(maps[2].start == 0x7f1c00000000ULL);
  CHECK(maps[2].policy == "bind:0");
  CHECK(maps[3].policy == "interleave:0-1");
  CHECK(maps[3].pages_by_node.at(1) == 4096);
  CHECK(maps[4].page_kb == 2048);
  CHECK(maps[4].policy == "prefer:1");
  CHECK(maps[5].name == "/tmp/my\\040data\\040file");
  CHECK(maps[6].name == "[stack]");
  // A real one-node capture: every mapping's pages are on node 0.
  auto host = parse_numa_maps(fixture("numa_maps_cat.txt"));
  REQUIRE(host.size() > 10);
  for (const auto& m : host)
    for (const auto& [node, pages] : m.pages_by_node) CHECK(node == 0);
}

TEST_CASE("maps: ranges, paths and lookup") {
  auto maps = parse_maps(fixture("maps_cat.txt"));
  REQUIRE(maps.size() > 10);
  CHECK(maps.front().path == "/usr/bin/cat");
  for (std::size_t i = 1; i < maps.size(); ++i) CHECK(maps[i - 1].start < maps[i].start);
  const auto& some = maps[3];
  CHECK(find_mapping(maps, some.start) == &some);
  CHECK(find_mapping(maps, some.end - 1) == &some);
  CHECK(find_mapping(maps, 1) == nullptr);
  auto spaced = parse_maps("7f00-7f10 r-xp 00001000 08:01 42 /opt/a b/lib.so\n");
  REQUIRE(spaced.size() == 1);
  CHECK(spaced[0].path == "/opt/a b/lib.so");
  CHECK(spaced[0].offset == 0x1000);
}

TEST_CASE("cpu lists, node memory and distance rows") {
  CHECK(parse_cpu_list("0-3,8,10-11\n") == std::vector<int>{0, 1, 2, 3, 8, 10, 11});
  CHECK(parse_cpu_list("") == std::vector<int>{});
  CHECK_FALSE(parse_cpu_list("3-1"));
  CHECK_FALSE(parse_cpu_list("a"));
  CHECK(parse_node_memtotal(fixture("node1_meminfo.txt")) == 1015808ULL * 1024);
  CHECK(parse_node_memtotal(fixture("node0_meminfo.txt")).value_or(0) > 0);
  CHECK(parse_distance_row("10 21 31\n") == std::vector<std::uint32_t>{10, 21, 31});
  CHECK(parse_distance_row("10 x").empty());
}

TEST_CASE("PMU event aliases resolve through the format files") {
  // Intel's cpu PMU: event=config:0-7, umask=config:8-15, ldlat=config1:0-15.
  std::map<std::string, std::string> formats{
      {"event", "config:0-7\n"}, {"umask", "config:8-15\n"}, {"ldlat", "config1:0-15\n"}, {"split", "config:0-3,32-35"}};
  auto c = resolve_pmu_event(fixture("intel_mem_loads_event.txt"), formats);
  REQUIRE(c);
  CHECK(c->config == 0x1cd);
  CHECK(c->config1 == 3);
  auto with_latency = resolve_pmu_event("event=0xcd,umask=0x1,ldlat=30", formats);
  REQUIRE(with_latency);
  CHECK(with_latency->config1 == 30);
  auto split = resolve_pmu_event("split=0xab", formats);
  REQUIRE(split);
  CHECK(split->config == ((0xbULL) | (0xaULL << 32)));
  auto unknown = resolve_pmu_event("nosuch=1", formats);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == EINVAL);
  CHECK(unknown.error().what.find("nosuch") != std::string::npos);
  auto too_wide = resolve_pmu_event("event=0x1ff", formats);   // 9 bits into an 8-bit field
  REQUIRE_FALSE(too_wide);
  CHECK(too_wide.error().what.find("too wide") != std::string::npos);
}

TEST_CASE("cmdline: NUL-separated arguments, empty ones kept, a trailing NUL ends the last") {
  using namespace std::string_literals;
  CHECK(split_cmdline("./app\0-x\0\0last\0"s) == std::vector<std::string>{"./app", "-x", "", "last"});
  CHECK(split_cmdline("no-terminator"s) == std::vector<std::string>{"no-terminator"});
  CHECK(split_cmdline("").empty());
}

TEST_CASE("cpu lists: only plain OS lists, no likwid domains or joined segments") {
  CHECK(parse_cpu_list(" 2-3 ") == std::vector<int>{2, 3});
  CHECK_FALSE(parse_cpu_list("N:0-3"));
  CHECK_FALSE(parse_cpu_list("0-1@2-3"));
  CHECK_FALSE(parse_cpu_list("spread"));
}
