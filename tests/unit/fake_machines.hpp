// Fake machines for unit tests: hwloc XML files under tests/data/topologies and synthetic strings.
#pragma once
#include <catch2/catch.hpp>

#include <string>

#include "agent/os/os.hpp"

namespace numa_agent::test {

inline Topology load_xml(const std::string& name) {
  os::TopologySource src{os::TopologySource::Kind::XmlFile,
                         std::string(NUMA_AGENT_TEST_DATA) + "/topologies/" + name, {}};
  auto r = os::load_topology(src);
  if (!r) FAIL("cannot load " << name << ": " << r.error().what);
  return *r;
}

inline Topology load_synthetic(const std::string& description) {
  os::TopologySource src{os::TopologySource::Kind::Synthetic, description, {}};
  auto r = os::load_topology(src);
  if (!r) FAIL("cannot load synthetic " << description << ": " << r.error().what);
  return *r;
}

// 2 packages × 1 node × 4 cores × 2 SMT: node 0 = cpus 0-7 (cores {0,1},{2,3},...), node 1 = 8-15.
inline Topology two_node_smt() { return load_xml("2node-2pkg-4core-smt2.xml"); }
// 4 packages × 1 node × 2 cores, distances 10/16/22/28: node k = cpus 2k, 2k+1.
inline Topology four_node_asymmetric() { return load_xml("4node-asymmetric.xml"); }
// 2 nodes × 4 cores, no SMT: node 0 = 0-3, node 1 = 4-7.
inline Topology two_node_flat() { return load_synthetic("pack:2 numa:1 core:4 pu:1"); }
inline Topology one_node() { return load_synthetic("pack:1 numa:1 core:4 pu:1"); }

}  // namespace numa_agent::test
