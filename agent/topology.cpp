#include "topology.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace numa_agent {

DistanceMatrix::DistanceMatrix(int n, std::uint32_t local, std::uint32_t remote)
    : n_(n), values_(static_cast<std::size_t>(n * n), remote) {
  for (int i = 0; i < n; ++i) set(i, i, local);
}

Topology::Topology(std::vector<NumaNode> nodes, std::vector<ProcessingUnit> pus,
                   DistanceMatrix distances)
    : nodes_(std::move(nodes)), pus_(std::move(pus)), distances_(std::move(distances)) {
  std::sort(pus_.begin(), pus_.end(), [](const ProcessingUnit& a, const ProcessingUnit& b) {
    return std::tie(a.node, a.core, a.smt_rank, a.os_index) <
           std::tie(b.node, b.core, b.smt_rank, b.os_index);
  });
  if (distances_.size() != node_count()) distances_ = DistanceMatrix(node_count());
}

int Topology::package_count() const {
  std::set<int> s;
  for (const auto& p : pus_) s.insert(p.package);
  return static_cast<int>(s.size());
}

int Topology::core_count() const {
  std::set<int> s;
  for (const auto& p : pus_) s.insert(p.core);
  return static_cast<int>(s.size());
}

CpuSet Topology::all_cpus() const {
  CpuSet s;
  for (const auto& p : pus_) s.add(p.os_index);
  return s;
}

const ProcessingUnit* Topology::pu(int cpu) const {
  for (const auto& p : pus_)
    if (p.os_index == cpu) return &p;
  return nullptr;
}

int Topology::node_of_cpu(int cpu) const {
  const ProcessingUnit* p = pu(cpu);
  return p ? p->node : -1;
}

int Topology::node_index_of_os(int os_node) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].os_index == os_node) return static_cast<int>(i);
  return -1;
}

CpuSet Topology::core_siblings(int cpu) const {
  CpuSet s;
  const ProcessingUnit* me = pu(cpu);
  if (!me) return s;
  for (const auto& p : pus_)
    if (p.core == me->core) s.add(p.os_index);
  return s;
}

Topology Topology::restricted_to(const CpuSet& allowed) const {
  std::vector<ProcessingUnit> pus;
  for (const auto& p : pus_)
    if (allowed.contains(p.os_index)) pus.push_back(p);
  std::vector<NumaNode> nodes = nodes_;
  for (auto& n : nodes) n.cpus = n.cpus & allowed;
  // smt_rank is re-ranked among the allowed siblings so rank 0 exists for every allowed core.
  for (auto& p : pus) {
    int rank = 0;
    for (const auto& q : pus)
      if (q.core == p.core && q.smt_rank < p.smt_rank) ++rank;
    p.smt_rank = rank;
  }
  return Topology(std::move(nodes), std::move(pus), distances_);
}

std::string Topology::summary() const {
  return std::to_string(node_count()) + (node_count() == 1 ? " node, " : " nodes, ") +
         std::to_string(package_count()) + " packages, " + std::to_string(core_count()) +
         " cores, " + std::to_string(pus_.size()) + " PUs (cpus " +
         all_cpus().to_list_string() + ")";
}

}  // namespace numa_agent
