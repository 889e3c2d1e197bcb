#include "agent/placement_policy.hpp"
#include "fake_machines.hpp"

using namespace numa_agent;
using namespace numa_agent::test;

namespace {
Options with_pin(const std::string& pin) {
  Options o = default_options();
  o.pin = pin;
  return o;
}

// The slot CPU of ordinals 0..n-1 (-1 for an unpinned ordinal).
std::vector<int> first_cpus(const PlacementPolicy& p, int n) {
  std::vector<int> v;
  for (int k = 0; k < n; ++k) {
    auto d = p.decide(static_cast<std::uint64_t>(k));
    v.push_back(d.pin ? d.slot_cpu : -1);
  }
  return v;
}

PlacementPolicy build(const Options& o, const Topology& t, bool omp = false) {
  auto p = PlacementPolicy::build(o, t, omp);
  INFO(p.fallback_warning().value_or(""));
  CHECK_FALSE(p.fallback_warning());
  return p;
}
}  // namespace

TEST_CASE("spread on 2 nodes × 4 cores alternates nodes, then cores") {
  Topology t = two_node_flat();
  auto p = build(with_pin("spread"), t);
  CHECK(first_cpus(p, 9) == std::vector<int>{0, 4, 1, 5, 2, 6, 3, 7, 0});   // wraps after 8
  auto d = p.decide(1);
  CHECK(d.node == 1);
  CHECK(d.cpus.to_list_string() == "4");
  CHECK(d.reason == PlacementReason::Policy);
}

TEST_CASE("spread uses SMT siblings only after every physical core") {
  Topology t = two_node_smt();
  auto p = build(with_pin("spread"), t);
  CHECK(first_cpus(p, 10) == std::vector<int>{0, 8, 2, 10, 4, 12, 6, 14, 1, 9});
}

TEST_CASE("spread on 4 asymmetric nodes visits every node before reusing one") {
  Topology t = four_node_asymmetric();
  auto p = build(with_pin("spread"), t);
  std::vector<int> nodes;
  for (int k = 0; k < 8; ++k) nodes.push_back(p.decide(static_cast<std::uint64_t>(k)).node);
  CHECK(nodes == std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3});
}

TEST_CASE("compact fills node 0's cores, then its SMT siblings, then node 1") {
  Topology t = two_node_smt();
  auto p = build(with_pin("compact"), t);
  CHECK(first_cpus(p, 10) == std::vector<int>{0, 2, 4, 6, 1, 3, 5, 7, 8, 10});
}

TEST_CASE("an explicit likwid list with a skip mask") {
  Topology t = two_node_flat();
  Options o = with_pin("N:0-7");   // physical first = 0..7 here
  o.skip_mask = 0x1;               // the first created thread (ordinal 1) is left alone
  auto p = build(o, t);
  auto skipped = p.decide(1);
  CHECK_FALSE(skipped.pin);
  CHECK(skipped.reason == PlacementReason::SkipMask);
  CHECK(first_cpus(p, 5) == std::vector<int>{0, -1, 1, 2, 3});   // skipped threads use no slot
}

TEST_CASE("bind scope widens the mask to the core or the node") {
  Topology t = two_node_smt();
  Options o = with_pin("spread");
  o.bind = BindScope::Core;
  CHECK(build(o, t).decide(1).cpus.to_list_string() == "8-9");
  o.bind = BindScope::Node;
  CHECK(build(o, t).decide(1).cpus.to_list_string() == "8-15");
}

TEST_CASE("a cpuset that excludes CPUs is never pinned outside") {
  Topology t = two_node_flat().restricted_to(CpuSet::of({1, 2, 6}));
  auto p = build(with_pin("spread"), t);
  for (int k = 0; k < 20; ++k) {
    auto d = p.decide(static_cast<std::uint64_t>(k));
    REQUIRE(d.pin);
    CHECK((d.cpus & CpuSet::of({1, 2, 6})) == d.cpus);
  }
  CHECK(first_cpus(p, 3) == std::vector<int>{1, 6, 2});
}

TEST_CASE("one node: spread and compact degenerate to the same core order") {
  Topology t = one_node();
  CHECK(build(with_pin("spread"), t).slots() == build(with_pin("compact"), t).slots());
  CHECK(build(with_pin("spread"), t).slots() == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("policy none and OpenMP variables step aside") {
  Topology t = two_node_flat();
  auto none = build(with_pin("none"), t);
  CHECK_FALSE(none.decide(1).pin);
  CHECK(none.stepped_aside() == "policy none");
  CHECK_FALSE(build(with_pin("spread"), t).stepped_aside());   // it pins: no reason to step aside
  auto omp = build(with_pin("spread"), t, /*omp=*/true);
  CHECK_FALSE(omp.decide(0).pin);
  CHECK(omp.decide(3).reason == PlacementReason::OpenMpEnv);
  Options ignore = with_pin("spread");
  ignore.honor_openmp = false;
  CHECK(build(ignore, t, true).decide(1).pin);
}

TEST_CASE("an expression that does not fit this machine falls back to spread with one warning") {
  Topology t = two_node_flat();
  auto p = PlacementPolicy::build(with_pin("0-3,64"), t, false);
  REQUIRE(p.fallback_warning());
  const std::string& warning = *p.fallback_warning();
  CHECK(warning.find("NUMA_AGENT_PIN='0-3,64' cannot be used here: CPU 64 is not available") == 0);
  CHECK(warning.find("using default 'spread'") != std::string::npos);
  CHECK(p.pin_text() == "spread");
  CHECK(p.slots() == build(with_pin("spread"), t).slots());
}

TEST_CASE("main thread not pinned with pin_main=0, created threads start at slot 0") {
  Topology t = two_node_flat();
  Options o = with_pin("spread");
  o.pin_main = MainPlacement::No;
  auto p = build(o, t);
  CHECK_FALSE(p.decide(0).pin);
  CHECK(p.decide(1).slot_cpu == 0);
  CHECK(p.decide(2).slot_cpu == 4);
}
