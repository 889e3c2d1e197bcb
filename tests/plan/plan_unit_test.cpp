// Placement plans without running anything: generation from synthetic recordings (each policy,
// the empty plan and why), the numa-agent-plan/1 parser (round trip, every refusal is one line),
// and the agent's install step against a fake loaded module (build-id and offset resolution).
#include <catch2/catch.hpp>

#include "agent/plan.hpp"
#include "agent/plan_heap.hpp"
#include "analyzer/rules/plan.hpp"
#include "analyzer/rules/report.hpp"
#include "plan_recordings.hpp"

using namespace numa_agent;
using namespace numa_agent::test;

namespace {

Scenario at(std::uint64_t offset) { return scenario_at("/opt/prog", "abcd", offset); }

// Functions of 0x100 bytes: the one holding an offset.
analyzer::PlanInputs fake_functions() {
  analyzer::PlanInputs in;
  in.function_range = [](const analyzer::SiteFrame& f) {
    return std::optional(std::pair{f.offset & ~std::uint64_t{0xff}, (f.offset & ~std::uint64_t{0xff}) + 0x100});
  };
  in.source = "test.rec.json";
  return in;
}

}  // namespace

TEST_CASE("plan: memory used by one remote node is bound to that node") {
  const auto rec = two_node_recording({remote_single_user(at(0x1010))});
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 1);
  CHECK(p.build_id == "abcd");
  CHECK(p.program == "/opt/prog");
  CHECK(p.sites[0].policy == plan::Policy::Bind);
  CHECK(p.sites[0].nodes == std::vector<int>{1});
  CHECK(p.sites[0].offset_start == 0x1000);
  CHECK(p.sites[0].offset_end == 0x1100);
  CHECK(p.sites[0].size_max == 8u << 20);
  CHECK(p.sites[0].evidence["remote_share"].get<double>() == Approx(0.95));
  CHECK(p.sites[0].evidence["expected_remote_share"].get<double>() == Approx(0.05));
}

TEST_CASE("plan: a serially initialised array swept by spread workers is partitioned by thread order") {
  const auto rec = two_node_recording({serial_init_sliced(at(0x2020))});
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 1);
  const auto& s = p.sites[0];
  CHECK(s.policy == plan::Policy::Partition);
  REQUIRE(s.parts.size() == 4);   // workers 101..104 alternate nodes 0, 1, 0, 1
  const int nodes[] = {0, 1, 0, 1};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(s.parts[i].node == nodes[i]);
    CHECK(s.parts[i].from == Approx(0.25 * double(i)));
    CHECK(s.parts[i].to == Approx(0.25 * double(i + 1)));
  }
  CHECK(s.evidence["serial_first_touch_share"].get<double>() == Approx(1.0));
}

TEST_CASE("plan: shared data read from both nodes after a parallel first touch is interleaved") {
  const auto rec = two_node_recording({parallel_init_shared(at(0x3030))});
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 1);
  CHECK(p.sites[0].policy == plan::Policy::Interleave);
  CHECK(p.sites[0].nodes == std::vector<int>{0, 1});
}

TEST_CASE("plan: --multi-node forces interleave or partition for memory several nodes use") {
  auto in = fake_functions();
  in.multi_node = analyzer::MultiNodePolicy::Interleave;
  CHECK(analyzer::generate_plan(two_node_recording({serial_init_sliced(at(0x2020))}), in).sites.at(0).policy ==
        plan::Policy::Interleave);
  in.multi_node = analyzer::MultiNodePolicy::Partition;
  CHECK(analyzer::generate_plan(two_node_recording({parallel_init_shared(at(0x3030))}), in).sites.at(0).policy ==
        plan::Policy::Partition);
}

TEST_CASE("plan: each site of a mixed recording gets its own policy and well-placed memory none") {
  const auto rec = two_node_recording({remote_single_user(at(0x1010)), serial_init_sliced(at(0x2020)),
                                       parallel_init_shared(at(0x3030)), well_placed(at(0x4040))});
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 3);
  CHECK(site_covering(p, 0x1010)->policy == plan::Policy::Bind);
  CHECK(site_covering(p, 0x2020)->policy == plan::Policy::Partition);
  CHECK(site_covering(p, 0x3030)->policy == plan::Policy::Interleave);
  CHECK(site_covering(p, 0x4040) == nullptr);
  CHECK_THAT(p.summary, Catch::Contains("3 site(s) planned") && Catch::Contains("mostly local already"));
}

TEST_CASE("plan: a well-placed program, a one-node machine and small or unsymbolised memory give an empty plan that says why") {
  auto p = analyzer::generate_plan(two_node_recording({well_placed(at(0x4040))}), fake_functions());
  CHECK(p.sites.empty());
  CHECK(p.build_id == "abcd");
  CHECK_THAT(p.summary, Catch::StartsWith("empty plan") && Catch::Contains("mostly local already"));

  p = analyzer::generate_plan(two_node_recording({remote_single_user(at(0x1010))}, 1), fake_functions());
  CHECK(p.sites.empty());
  CHECK_THAT(p.summary, Catch::Contains("one NUMA node"));

  Scenario small = remote_single_user(at(0x1010));
  small.bytes = 512 << 10;
  p = analyzer::generate_plan(two_node_recording({small}), fake_functions());
  CHECK(p.sites.empty());
  CHECK_THAT(p.summary, Catch::Contains("smaller than 1 MiB"));

  auto no_symbols = fake_functions();
  no_symbols.function_range = [](const analyzer::SiteFrame&) { return std::optional<std::pair<std::uint64_t, std::uint64_t>>(); };
  p = analyzer::generate_plan(two_node_recording({remote_single_user(at(0x1010))}), no_symbols);
  CHECK(p.sites.empty());
  CHECK_THAT(p.summary, Catch::Contains("extent is unknown"));

  // The empty plan is a valid plan.
  auto parsed = plan::parse_plan(plan::plan_to_json(p).dump());
  REQUIRE(parsed);
  CHECK(parsed->sites.empty());
}

TEST_CASE("plan file: what the generator writes parses back to the same plan") {
  const auto rec = two_node_recording({remote_single_user(at(0x1010)), serial_init_sliced(at(0x2020)),
                                       parallel_init_shared(at(0x3030))});
  const auto p = analyzer::generate_plan(rec, fake_functions());
  const auto text = plan::plan_to_json(p).dump(2);
  auto back = plan::parse_plan(text);
  REQUIRE(back);
  CHECK(plan::plan_to_json(*back).dump(2) == text);
  CHECK(back->source == "test.rec.json");
}

TEST_CASE("plan file: malformed plans are refused with one line naming what is wrong") {
  const std::string head = R"({"schema":"numa-agent-plan/1","build_id":"ab","sites":[)";
  const std::string match = R"("match":{"offset_start":16,"offset_end":32,"size_min":1,"size_max":10})";
  const std::pair<std::string, std::string> cases[] = {
      {"{", "is not valid JSON"},
      {"[]", "is not a JSON object"},
      {R"({"schema":"numa-agent-plan/2","build_id":"ab","sites":[]})", "is not numa-agent-plan/1"},
      {R"({"schema":"numa-agent-plan/1","sites":[]})", "build_id is missing"},
      {R"({"schema":"numa-agent-plan/1","build_id":"ab"})", "sites is missing"},
      {head + R"({"policy":"bind","nodes":[0]}]})", "site 1: match is missing"},
      {head + "{" + match + R"(,"policy":"spread","nodes":[0]}]})", "site 1: policy 'spread' is not one of"},
      {head + "{" + match + R"(,"policy":"bind","nodes":[]}]})", "site 1: bind without nodes"},
      {head + "{" + match + R"(,"policy":"bind","nodes":[1024]}]})", "is not an OS node number"},
      {head + "{" + match + R"(,"policy":"interleave","nodes":[-1]}]})", "is not an OS node number"},
      {head + "{" + match + R"(,"policy":"partition","parts":[{"from":0.5,"to":1,"node":0},{"from":0,"to":0.5,"node":1}]}]})",
       "in order and not overlapping"},
      {head + "{" + match + R"(,"policy":"partition","parts":[{"from":0,"to":1.5,"node":0}]}]})", "inside [0, 1]"},
      {head + R"({"match":{"offset_start":32,"offset_end":16,"size_min":1,"size_max":10},"policy":"bind","nodes":[0]}]})",
       "offset_end is not above offset_start"},
      {head + R"({"match":{"offset_start":16,"offset_end":32,"size_min":-1,"size_max":10},"policy":"bind","nodes":[0]}]})",
       "match.size_min is missing or not a non-negative integer"},
      {R"({"schema":"numa-agent-plan/1","build_id":"","sites":[{)" + match + R"(,"policy":"bind","nodes":[0]}]})",
       "build_id is empty"},
  };
  for (const auto& [text, why] : cases) {
    INFO(text);
    auto p = plan::parse_plan(text);
    REQUIRE_FALSE(p);
    CHECK_THAT(p.error().what, Catch::Contains(why));
    CHECK(p.error().what.find('\n') == std::string::npos);
  }
}

TEST_CASE("plan install: a plan for another build is refused, offsets become this run's addresses") {
  plan::Plan p;
  p.build_id = "feed";
  p.program = "/opt/prog";
  plan::Site s;
  s.offset_start = 0x1100;
  s.offset_end = 0x1180;
  s.size_min = 1 << 20;
  s.size_max = 8 << 20;
  s.policy = plan::Policy::Bind;
  s.nodes = {0};
  p.sites.push_back(s);
  os::LoadedModule other{"", "beef", 0x555500000000, {{0x1000, 0x1000, 0x2000, true}}};
  auto refused = plan::install(p, std::vector{other});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().what, Catch::Contains("build-id feed (/opt/prog)") && Catch::Contains("no object of this process"));
  CHECK_FALSE(plan::g_active.load());

  plan::Plan empty;
  auto none = plan::install(empty, std::vector{other});
  REQUIRE(none);
  CHECK(*none == 0);
  CHECK_FALSE(plan::g_active.load());

  // The module loaded at bias 0x555500000000, text at vaddr 0x1000 from file offset 0x1000.
  os::LoadedModule mine{"", "feed", 0x555500000000, {{0x0, 0x0, 0x800, false}, {0x1000, 0x1000, 0x2000, true}}};
  auto installed = plan::install(p, std::vector{other, mine});
  REQUIRE(installed);
  CHECK(*installed == 1);
  CHECK(plan::g_active.load());
  const auto call = [](std::uintptr_t a) { return reinterpret_cast<const void*>(a); };
  CHECK(plan::allocate(2 << 20, 16, call(0x555500001180)) == nullptr);    // just past the range
  CHECK(plan::allocate(2 << 20, 16, call(0x5555000010ff)) == nullptr);    // just before it
  CHECK(plan::allocate(16 << 20, 16, call(0x555500001120)) == nullptr);   // above size_max
  CHECK(plan::allocate(512 << 10, 16, call(0x555500001120)) == nullptr);  // below size_min
  void* block = plan::allocate(3 << 20, 1 << 21, call(0x555500001120));
  REQUIRE(block != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(block) % (1 << 21) == 0);
  CHECK(plan::owns(block));
  CHECK(plan::usable_bytes(block) == 3u << 20);
  int mode = -1;
  unsigned long mask[os::kNodeMaskWords] = {};
  REQUIRE(os::memory_policy_at(block, &mode, mask) == 0);
  CHECK(mode == 2);   // MPOL_BIND
  CHECK(mask[0] == 1);
  static_cast<char*>(block)[0] = 1;
  void* grown = plan::allocate_like(block, 6 << 20);   // realloc growing it: same site, same policy
  REQUIRE(grown != nullptr);
  CHECK(plan::usable_bytes(grown) == 6u << 20);
  REQUIRE(os::memory_policy_at(grown, &mode, mask) == 0);
  CHECK(mode == 2);
  CHECK(plan::allocate_like(block, 16 << 20) == nullptr);   // above the site's size_max
  plan::release(grown);
  plan::release(block);
  void* again = plan::allocate(3 << 20, 1 << 21, call(0x555500001100));
  CHECK(again == block);   // a freed block up to 4 MiB is kept for its site: no syscall
  CHECK(static_cast<char*>(again)[0] == 1);
  plan::release(again);
  void* zeroed = plan::allocate(3 << 20, 16, call(0x555500001100), /*zeroed=*/true);   // calloc
  CHECK(zeroed == block);
  CHECK(static_cast<char*>(zeroed)[0] == 0);
  plan::release(zeroed);
  char* big = static_cast<char*>(plan::allocate(6 << 20, 16, call(0x555500001100)));
  REQUIRE(big != nullptr);
  big[0] = 1;
  plan::release(big);   // above 4 MiB: its pages go back at once; the addresses are used again
  char* big_again = static_cast<char*>(plan::allocate(6 << 20, 16, call(0x555500001100)));
  CHECK(big_again == big);
  CHECK(big_again[0] == 0);   // fresh pages
  REQUIRE(os::memory_policy_at(big_again, &mode, mask) == 0);
  CHECK(mode == 2);
  plan::release(big_again);
  const auto counted = plan::stats();
  CHECK(counted.sites == 1);
  CHECK(counted.blocks == 6);   // block, grown, again and zeroed (both reused), big, big_again
  CHECK(counted.reused == 2);
  CHECK(counted.refused == 0);
  int dummy = 0;
  CHECK_FALSE(plan::owns(&dummy));
}

TEST_CASE("plan: the size range reaches the resident bytes when the recorded mapping is smaller") {
  auto rec = two_node_recording({remote_single_user(at(0x1010))});
  rec.mappings[0].pages_by_node = {{0, 8192}};   // 32 MiB resident in an 8 MiB mapping record
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 1);
  CHECK(p.sites[0].size_min == 1u << 20);
  CHECK(p.sites[0].size_max == 32u << 20);
}

TEST_CASE("report: a recommendation about memory the plan places offers numa-analyze apply, others do not") {
  // The serially initialised array is partitioned by the plan: its recommendation (interleave:
  // both nodes use it) says so and gives apply; the well-placed mapping gets no such line.
  auto rec = two_node_recording({serial_init_sliced(at(0x2020)), well_placed(at(0x4040))});
  rec.mappings[0].pages_by_node = {{0, 2048}};
  rec.mappings[1].pages_by_node = {{0, 1024}, {1, 1024}};
  const auto report = analyzer::build_report(rec);
  int offered = 0;
  for (const auto& r : report["recommendations"]) {
    const std::string command = r["command"].get<std::string>();
    if (command.rfind("numa-analyze apply -- plan-test", 0) != 0) continue;
    ++offered;
    CHECK(r["mapping"] == "0x7f0000000000");
    CHECK(r["evidence"].get<std::string>().find("partition for the blocks allocated in fill") != std::string::npos);
  }
  CHECK(offered == 1);
}

TEST_CASE("plan: partition slices follow thread creation (tid) order, not the order the recorder first saw them") {
  auto rec = two_node_recording({serial_init_sliced(at(0x2020))});
  for (auto& t : rec.threads) t.first_seen_s = 1.0 - 0.01 * (t.tid - 100);   // seen last-created first
  const auto p = analyzer::generate_plan(rec, fake_functions());
  REQUIRE(p.sites.size() == 1);
  REQUIRE(p.sites[0].parts.size() == 4);
  const int nodes[] = {0, 1, 0, 1};   // workers 101..104
  for (std::size_t i = 0; i < 4; ++i) CHECK(p.sites[0].parts[i].node == nodes[i]);
}
