#include "fake_machines.hpp"

using namespace numa_agent;
using namespace numa_agent::test;

TEST_CASE("hwloc XML of a 2-socket SMT machine gives nodes, cores, SMT ranks and distances") {
  Topology t = two_node_smt();
  REQUIRE(t.node_count() == 2);
  CHECK(t.package_count() == 2);
  CHECK(t.core_count() == 8);
  CHECK(t.pus().size() == 16);
  CHECK(t.nodes()[0].cpus.to_list_string() == "0-7");
  CHECK(t.nodes()[1].cpus.to_list_string() == "8-15");
  CHECK(t.node_of_cpu(9) == 1);
  CHECK(t.pu(1)->smt_rank == 1);
  CHECK(t.pu(2)->smt_rank == 0);
  CHECK(t.core_siblings(3).to_list_string() == "2-3");
  CHECK(t.distances().at(0, 1) == 21);
  CHECK(t.distances().at(1, 1) == 10);
}

TEST_CASE("asymmetric 4-node distances are read as given") {
  Topology t = four_node_asymmetric();
  REQUIRE(t.node_count() == 4);
  CHECK(t.distances().at(0, 1) == 16);
  CHECK(t.distances().at(0, 3) == 28);
  CHECK(t.distances().at(1, 2) == 28);
  CHECK(t.distances().at(3, 2) == 16);
}

TEST_CASE("a distance override replaces the source's matrix, and a wrong size is an error") {
  os::TopologySource src{os::TopologySource::Kind::Synthetic, "pack:2 numa:1 core:1 pu:1", {10, 31, 31, 10}};
  auto r = os::load_topology(src);
  REQUIRE(r.has_value());
  CHECK(r->distances().at(1, 0) == 31);
  src.distances = {10, 20, 20};
  auto bad = os::load_topology(src);
  REQUIRE(!bad.has_value());
  CHECK(bad.error().what.find("expected 4") != std::string::npos);
}

TEST_CASE("a missing or corrupt XML file is an error, not a crash") {
  os::TopologySource missing{os::TopologySource::Kind::XmlFile, "/nonexistent/topo.xml", {}};
  CHECK(!os::load_topology(missing).has_value());
  os::TopologySource garbage{os::TopologySource::Kind::Synthetic, "pack:banana", {}};
  CHECK(!os::load_topology(garbage).has_value());
}

TEST_CASE("restricting to a cpuset keeps nodes but only the allowed PUs, re-ranking SMT") {
  Topology t = two_node_smt().restricted_to(CpuSet::of({1, 3, 8, 9}));
  CHECK(t.node_count() == 2);
  CHECK(t.pus().size() == 4);
  CHECK(t.all_cpus().to_list_string() == "1,3,8-9");
  CHECK(t.pu(1)->smt_rank == 0);   // its sibling 0 is not allowed
  CHECK(t.pu(9)->smt_rank == 1);
  CHECK(t.nodes()[0].cpus.to_list_string() == "1,3");
}

TEST_CASE("this machine loads, and its allowed CPUs are part of it") {
  auto r = os::load_topology({});
  REQUIRE(r.has_value());
  const Topology& t = *r;
  CHECK(t.node_count() >= 1);
  CpuSet allowed = os::process_allowed_cpus();
  REQUIRE(!allowed.empty());
  CHECK((t.all_cpus() & allowed) == allowed);
}

TEST_CASE("CpuSet prints the kernel's list format") {
  CHECK(CpuSet::of({0, 1, 2, 3, 8}).to_list_string() == "0-3,8");
  CHECK(CpuSet::of({5}).to_list_string() == "5");
  CHECK(CpuSet().to_list_string().empty());
  CpuSet s;
  CHECK_FALSE(s.add(CpuSet::kMaxCpus));
  CHECK(s.empty());
}
