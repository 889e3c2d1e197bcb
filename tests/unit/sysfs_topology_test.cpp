// The agent's own sysfs discovery (agent/topology.hpp: node_layout_from_sysfs, topology_from_sysfs)
// against fake sysfs files and against hwloc on recorded trees of real machines (hwloc's own test
// trees, bench/data/fsroot/, replayed through HWLOC_FSROOT).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <stdlib.h>   // test code may use the OS directly: setenv, mkdtemp, system

#include <filesystem>
#include <map>
#include <string>

#include "agent/os/os.hpp"

using namespace numa_agent;

namespace {

// A fake /sys/devices/system: file name -> text; counts what was read.
struct FakeSysfs {
  std::map<std::string, std::string, std::less<>> files;
  mutable int reads = 0;
  SysfsReader reader() const {
    return [this](std::string_view path) -> Result<std::string> {
      ++reads;
      auto it = files.find(path);
      if (it == files.end()) return fail(ENOENT, std::string(path));
      return it->second;
    };
  }
};

std::string range(int lo, int hi) { return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi); }

// `packages` x `cores` x `smt` CPUs numbered as Linux does on x86 (SMT siblings cpu and
// cpu + cores*packages), one node per package, distances 10/21.
FakeSysfs machine(int packages, int cores, int smt) {
  FakeSysfs s;
  const int per_thread = packages * cores;
  const int cpus = per_thread * smt;
  s.files["cpu/online"] = range(0, cpus - 1) + "\n";
  s.files["node/online"] = range(0, packages - 1) + "\n";
  for (int p = 0; p < packages; ++p) {
    std::string list, distance;
    for (int t = 0; t < smt; ++t)
      list += (t ? "," : "") + range(t * per_thread + p * cores, t * per_thread + p * cores + cores - 1);
    for (int q = 0; q < packages; ++q) distance += (q ? " " : "") + std::string(q == p ? "10" : "21");
    const std::string node = "node/node" + std::to_string(p) + "/";
    s.files[node + "cpulist"] = list + "\n";
    s.files[node + "meminfo"] = "Node " + std::to_string(p) + " MemTotal:       16384 kB\nNode 0 MemFree: 1 kB\n";
    s.files[node + "distance"] = distance + "\n";
  }
  for (int c = 0; c < cpus; ++c) {
    const int first = c % per_thread;
    std::string siblings;
    for (int t = 0; t < smt; ++t) siblings += (t ? "," : "") + std::to_string(first + t * per_thread);
    const std::string dir = "cpu/cpu" + std::to_string(c) + "/topology/";
    s.files[dir + "thread_siblings_list"] = siblings + "\n";
    s.files[dir + "physical_package_id"] = std::to_string(first / cores) + "\n";
    s.files[dir + "core_id"] = std::to_string(first % cores) + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("sysfs: a 2-package SMT machine gives nodes, cores, packages, SMT ranks, memory and distances") {
  FakeSysfs s = machine(2, 4, 2);   // cpus 0-15; core k = {k, k+8}
  auto t = topology_from_sysfs(s.reader());
  REQUIRE(t);
  CHECK(t->node_count() == 2);
  CHECK(t->package_count() == 2);
  CHECK(t->core_count() == 8);
  CHECK(t->pus().size() == 16);
  CHECK(t->nodes()[1].cpus.to_list_string() == "4-7,12-15");
  CHECK(t->nodes()[0].memory_bytes == 16384u * 1024);
  CHECK(t->core_siblings(3).to_list_string() == "3,11");
  CHECK(t->pu(3)->smt_rank == 0);
  CHECK(t->pu(11)->smt_rank == 1);
  CHECK(t->pu(12)->package == 1);
  CHECK(t->pu(12)->core == t->pu(4)->core);
  CHECK(t->distances().at(0, 1) == 21);
  CHECK(t->distances().at(1, 1) == 10);
}

TEST_CASE("sysfs: the start-up layout reads 2 + 2 per node files, however many CPUs the machine has") {
  FakeSysfs small = machine(4, 2, 1);    // 8 CPUs
  FakeSysfs big = machine(4, 64, 2);     // 512 CPUs
  auto a = node_layout_from_sysfs(small.reader());
  auto b = node_layout_from_sysfs(big.reader());
  REQUIRE(a);
  REQUIRE(b);
  CHECK(small.reads == 2 + 2 * 4);
  CHECK(big.reads == small.reads);
  CHECK(b->node_count() == 4);
  CHECK(b->node_of_cpu(300) == 0);   // 300 = 256 + 44: SMT sibling of CPU 44, package 0
  CHECK(b->node_of_cpu(64) == 1);
  // The whole topology (first thread): a sibling list and a package id per core, a core id per
  // SMT sibling, a distance row per node.
  big.reads = 0;
  REQUIRE(topology_from_sysfs(big.reader()));
  CHECK(big.reads == (2 + 2 * 4) + 4 * 256 + 4);
}

TEST_CASE("sysfs: a memory-less node makes the layout read distances so its CPUs find memory") {
  FakeSysfs s = machine(2, 2, 1);
  s.files["node/node1/meminfo"] = "Node 1 MemTotal:       0 kB\n";
  s.files["node/node0/distance"] = "10 30\n";
  s.files["node/node1/distance"] = "30 10\n";
  auto t = node_layout_from_sysfs(s.reader());
  REQUIRE(t);
  CHECK(t->nodes()[1].memory_bytes == 0);
  CHECK(t->distances().at(0, 1) == 30);
}

TEST_CASE("sysfs: a kernel without NUMA is one node with every online CPU") {
  FakeSysfs s;
  s.files["cpu/online"] = "0-5\n";
  auto t = topology_from_sysfs(s.reader());   // no per-CPU topology files either
  REQUIRE(t);
  CHECK(t->node_count() == 1);
  CHECK(t->nodes()[0].cpus.to_list_string() == "0-5");
  CHECK(t->core_count() == 6);
}

TEST_CASE("sysfs: unreadable or malformed files are one clear error") {
  FakeSysfs none;
  auto t = node_layout_from_sysfs(none.reader());
  REQUIRE_FALSE(t);
  CHECK(t.error().code == ENOENT);
  CHECK(t.error().what.find("/sys/devices/system/cpu/online is not readable") == 0);
  FakeSysfs bad = machine(2, 2, 1);
  bad.files["node/node1/cpulist"] = "2-x\n";
  auto u = node_layout_from_sysfs(bad.reader());
  REQUIRE_FALSE(u);
  CHECK(u.error().what == "node/node1/cpulist: not a list like 0-3,8");
}

// Recorded trees of real machines (hwloc's tests/hwloc/linux, BSD-3-Clause): the agent's reader
// and hwloc must see the same machine.
TEST_CASE("sysfs: recorded trees of 3- to 8-node machines with up to 128 CPUs read as hwloc reads them") {
  const std::filesystem::path data = std::filesystem::path(NUMA_AGENT_SOURCE_DIR) / "bench/data/fsroot";
  char scratch[] = "/tmp/numa-agent-fsroot-XXXXXX";
  REQUIRE(mkdtemp(scratch));
  // (tarball, the directory it holds)
  const std::pair<const char*, const char*> trees[] = {
      {"64amd64-4s2n4ca2co", "64amd64-4s2n4ca2co"}, {"128arm-2pa2n8cluster4co", "128arm-2pa2n8cluster4co"},
      {"48amd64-4pa2n6c-sparse", "48amd64-4d2n6c-sparse"}, {"32em64t-2n8c+dax+nvme+mic+dimms", "32em64t-2n8c+1mic"}};
  for (auto [name, dir] : trees) {
    INFO(name);
    // Python's tarfile reads bzip2 itself (no bzip2 binary needed); python3 is a bench dependency.
    const std::string cmd = "python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' '" +
                            (data / (std::string(name) + ".tar.bz2")).string() + "' " + scratch;
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string root = std::string(scratch) + "/" + dir;
    REQUIRE(setenv("HWLOC_FSROOT", root.c_str(), 1) == 0);
    auto mine = topology_from_sysfs(os::sysfs_reader());
    auto theirs = os::load_topology({});
    unsetenv("HWLOC_FSROOT");
    INFO((mine ? "" : mine.error().what) << (theirs ? "" : theirs.error().what));
    REQUIRE(mine);
    REQUIRE(theirs);
    REQUIRE(mine->node_count() == theirs->node_count());
    CHECK(mine->package_count() == theirs->package_count());
    CHECK(mine->core_count() == theirs->core_count());
    REQUIRE(mine->pus().size() == theirs->pus().size());
    for (std::size_t i = 0; i < mine->pus().size(); ++i) {
      const auto &a = mine->pus()[i], &b = theirs->pus()[i];
      INFO("pu " << i << ": cpu " << a.os_index << " / " << b.os_index);
      CHECK(a.os_index == b.os_index);
      CHECK(a.core == b.core);
      CHECK(a.package == b.package);
      CHECK(a.node == b.node);
      CHECK(a.smt_rank == b.smt_rank);
    }
    for (int n = 0; n < mine->node_count(); ++n) {
      CHECK(mine->nodes()[n].os_index == theirs->nodes()[n].os_index);
      CHECK(mine->nodes()[n].cpus.to_list_string() == theirs->nodes()[n].cpus.to_list_string());
      for (int m = 0; m < mine->node_count(); ++m) CHECK(mine->distances().at(n, m) == theirs->distances().at(n, m));
    }
  }
  std::filesystem::remove_all(scratch);
}
