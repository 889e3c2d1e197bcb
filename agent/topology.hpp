// Topology: the machine as the agent sees it: NUMA nodes, packages, cores and PUs, and the node
// distance matrix. Pure data: loaded by os::load_topology (hwloc), built from sysfs text
// (topology_from_sysfs, what libnumaagent.so uses) or built by tests.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cpu_set.hpp"
#include "error.hpp"

namespace numa_agent {

struct ProcessingUnit {
  int os_index = 0;   // the CPU number the kernel uses
  int core = 0;       // logical core index, machine-wide (hwloc logical index)
  int package = 0;    // logical package (socket) index
  int node = 0;       // index into Topology::nodes() (not the OS node number)
  int smt_rank = 0;   // 0 for the first hardware thread of its core, 1 for its sibling, ...
};

struct NumaNode {
  int os_index = 0;             // node number the kernel uses (mbind, /sys/devices/system/node)
  CpuSet cpus;                  // PUs attached to this node (may be empty: memory-only node)
  std::uint64_t memory_bytes = 0;
};

// Node distances (ACPI SLIT convention: 10 = local). Square, indexed by Topology::nodes() index.
class DistanceMatrix {
 public:
  DistanceMatrix() = default;
  explicit DistanceMatrix(int n, std::uint32_t local = 10, std::uint32_t remote = 20);
  int size() const { return n_; }
  std::uint32_t at(int from, int to) const { return values_[static_cast<std::size_t>(from * n_ + to)]; }
  void set(int from, int to, std::uint32_t v) { values_[static_cast<std::size_t>(from * n_ + to)] = v; }

 private:
  int n_ = 0;
  std::vector<std::uint32_t> values_;
};

class Topology {
 public:
  Topology() = default;
  Topology(std::vector<NumaNode> nodes, std::vector<ProcessingUnit> pus, DistanceMatrix distances);

  const std::vector<NumaNode>& nodes() const { return nodes_; }
  // Sorted by (node, core, smt_rank): the order in which "compact" fills the machine.
  const std::vector<ProcessingUnit>& pus() const { return pus_; }
  const DistanceMatrix& distances() const { return distances_; }

  int node_count() const { return static_cast<int>(nodes_.size()); }
  int package_count() const;
  int core_count() const;
  CpuSet all_cpus() const;
  // Index into nodes() of the node that holds `cpu`, or -1.
  int node_of_cpu(int cpu) const;
  // Index into nodes() of the node with this OS number, or -1.
  int node_index_of_os(int os_node) const;
  const ProcessingUnit* pu(int cpu) const;
  // All PUs sharing `cpu`'s core.
  CpuSet core_siblings(int cpu) const;

  // The same machine with only `allowed` CPUs (taskset, cgroup cpuset). Nodes left without CPUs
  // are kept (their memory is still usable) but no PU points at them.
  Topology restricted_to(const CpuSet& allowed) const;

  // One-line summary for logs: "2 nodes, 2 packages, 8 cores, 16 PUs (allowed: 0-15)".
  std::string summary() const;

 private:
  std::vector<NumaNode> nodes_;
  std::vector<ProcessingUnit> pus_;
  DistanceMatrix distances_;
};

// Reads one file below /sys/devices/system ("node/online", "cpu/cpu3/topology/core_cpus_list").
// The OS layer supplies the real one (os::sysfs_reader); tests supply a map of fake files.
using SysfsReader = std::function<Result<std::string>(std::string_view relative_path)>;

// NUMA nodes only, for the pools at start-up: cpu/online, node/online, then each node's cpulist
// and meminfo (and its distance row when some node has no memory): 2 + 2N files however many
// CPUs and devices the machine has. Each PU is its own core of package 0 (enough for CPU -> node). A kernel without
// NUMA (no node/ directory) is one node holding cpu/online. Fails only when sysfs is unreadable.
Result<Topology> node_layout_from_sysfs(const SysfsReader& read);

// The whole machine for the placement policy: the node layout, then one thread_siblings_list (or
// core_cpus_list) and physical_package_id per core and one core_id per SMT sibling, and every node's distance row. Cores
// and packages are numbered as hwloc numbers them (packages by first CPU, cores by package, then
// first CPU; SMT rank by CPU number within the core). Files missing for a CPU make it its own
// core, as hwloc does.
Result<Topology> topology_from_sysfs(const SysfsReader& read);

}  // namespace numa_agent
