#include "topology.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "cpu_list.hpp"
#include "text.hpp"

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

// ---- from sysfs text ------------------------------------------------------------------------
namespace {

// A kernel list ("0-3,8", "" for a memory-only node) in the CPU-expression grammar's OS-list form.
Result<CpuSet> kernel_list(std::string_view text, std::string_view file) {
  CpuSet out;
  const std::string_view t = text::trim(text.substr(0, text.find('\0')));   // recorded trees may end in NUL
  if (t.empty()) return out;
  auto spec = parse_pin_spec(t);
  if (!spec || spec->kind != PinSpec::Kind::Explicit || spec->segments.size() != 1 ||
      spec->segments[0].form != PinSegment::Form::OsList)
    return fail(EINVAL, std::string(file) + ": not a list like 0-3,8");
  for (auto [lo, hi] : spec->segments[0].ranges)
    for (int c = lo; c <= hi; ++c) out.add(c);
  return out;
}

Result<CpuSet> read_list(const SysfsReader& read, const std::string& file) {
  auto text = read(file);
  if (!text) return fail(text.error());
  return kernel_list(*text, file);
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  s = text::trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// nodeN/meminfo: "Node 0 MemTotal:       24576000 kB"; 0 when absent.
std::uint64_t node_memory_bytes(const SysfsReader& read, int node) {
  auto text = read("node/node" + std::to_string(node) + "/meminfo");
  if (!text) return 0;
  for (std::string_view line : text::split(*text, '\n')) {
    const auto at = line.find("MemTotal:");
    if (at == std::string_view::npos) continue;
    std::string_view rest = text::trim(line.substr(at + 9));
    if (auto kb = number(rest.substr(0, rest.find(' ')))) return *kb * 1024;
  }
  return 0;
}

// Every node's distance row ("10 21"); the default matrix when one is missing or malformed.
DistanceMatrix node_distances(const SysfsReader& read, const std::vector<NumaNode>& nodes) {
  const int n = static_cast<int>(nodes.size());
  DistanceMatrix d(n);
  std::map<int, int> index_of_os;
  for (int i = 0; i < n; ++i) index_of_os[nodes[static_cast<std::size_t>(i)].os_index] = i;
  for (int a = 0; a < n; ++a) {
    auto text = read("node/node" + std::to_string(nodes[static_cast<std::size_t>(a)].os_index) + "/distance");
    if (!text) return DistanceMatrix(n);
    // The row has one value per online node, in node-number order (the index_of_os order).
    std::vector<std::uint32_t> row;
    for (std::string_view w : text::split(text::trim(*text), ' '))
      if (!w.empty()) {
        auto v = number(w);
        if (!v) return DistanceMatrix(n);
        row.push_back(static_cast<std::uint32_t>(*v));
      }
    if (row.size() != static_cast<std::size_t>(n)) return DistanceMatrix(n);
    int b = 0;
    for (const auto& [os, index] : index_of_os) d.set(a, index, row[static_cast<std::size_t>(b++)]);
  }
  return d;
}

}  // namespace

Result<Topology> node_layout_from_sysfs(const SysfsReader& read) {
  auto online = read_list(read, "cpu/online");
  if (!online) return fail(online.error().code, "/sys/devices/system/cpu/online is not readable (is /sys mounted?)");
  std::vector<NumaNode> nodes;
  auto node_ids = read_list(read, "node/online");
  if (!node_ids && node_ids.error().code != ENOENT) return fail(node_ids.error());
  if (!node_ids) {   // a kernel without NUMA: one node with every CPU
    NumaNode n;
    n.cpus = *online;
    nodes.push_back(n);
  } else {
    for (int id = node_ids->first(); id >= 0; id = node_ids->next(id)) {
      NumaNode n;
      n.os_index = id;
      auto cpus = read_list(read, "node/node" + std::to_string(id) + "/cpulist");
      if (!cpus) return fail(cpus.error());
      n.cpus = *cpus & *online;
      n.memory_bytes = node_memory_bytes(read, id);
      nodes.push_back(n);
    }
  }
  if (nodes.empty()) return fail(EINVAL, "/sys/devices/system/node/online lists no node");
  std::vector<ProcessingUnit> pus;
  for (int c = online->first(); c >= 0; c = online->next(c)) {
    ProcessingUnit p;
    p.os_index = c;
    p.core = c;
    for (std::size_t k = 0; k < nodes.size(); ++k)
      if (nodes[k].cpus.contains(c)) { p.node = static_cast<int>(k); break; }
    pus.push_back(p);
  }
  // The pools need distances only to send a memory-less node's CPUs to the nearest node.
  const bool memoryless = std::any_of(nodes.begin(), nodes.end(), [](const NumaNode& n) { return n.memory_bytes == 0; });
  DistanceMatrix dist = memoryless && nodes.size() > 1 ? node_distances(read, nodes) : DistanceMatrix(static_cast<int>(nodes.size()));
  return Topology(std::move(nodes), std::move(pus), std::move(dist));
}

Result<Topology> topology_from_sysfs(const SysfsReader& read) {
  auto layout = node_layout_from_sysfs(read);
  if (!layout) return layout;
  const CpuSet online = layout->all_cpus();
  // One sibling list per core: a CPU already seen as a sibling needs no file of its own.
  struct Core {
    int package_id = 0;
    CpuSet cpus;
  };
  std::vector<Core> cores;
  CpuSet seen;
  for (int c = online.first(); c >= 0; c = online.next(c)) {
    if (seen.contains(c)) continue;
    const std::string dir = "cpu/cpu" + std::to_string(c) + "/topology/";
    Core core;
    auto siblings = read_list(read, dir + "thread_siblings_list");   // every kernel has it
    if (!siblings) siblings = read_list(read, dir + "core_cpus_list");
    if (auto text = read(dir + "physical_package_id"))
      if (auto id = number(*text)) core.package_id = static_cast<int>(*id);
    core.cpus.add(c);
    // Siblings with another core_id are cores of their own (AMD compute units list both of
    // their cores as thread siblings; hwloc splits them the same way).
    const CpuSet others = siblings ? (*siblings & online) : CpuSet{};
    if (others.count() > 1) {
      auto core_id = [&](int cpu) { auto t = read("cpu/cpu" + std::to_string(cpu) + "/topology/core_id");
                                    return t ? number(*t) : std::nullopt; };
      const auto mine = core_id(c);
      for (int s = others.first(); s >= 0; s = others.next(s))
        if (s != c && core_id(s) == mine) core.cpus.add(s);
    }
    seen = seen | core.cpus;
    cores.push_back(core);
  }
  // hwloc's logical order: packages by their first CPU, cores by package, then by first CPU.
  std::map<int, int> package_first_cpu;
  for (const auto& core : cores) {
    auto [it, fresh] = package_first_cpu.emplace(core.package_id, core.cpus.first());
    if (!fresh) it->second = std::min(it->second, core.cpus.first());
  }
  std::vector<std::pair<int, int>> packages_by_cpu;   // (first cpu, package id)
  for (auto [id, cpu] : package_first_cpu) packages_by_cpu.emplace_back(cpu, id);
  std::sort(packages_by_cpu.begin(), packages_by_cpu.end());
  std::map<int, int> package_index;
  for (std::size_t i = 0; i < packages_by_cpu.size(); ++i) package_index[packages_by_cpu[i].second] = static_cast<int>(i);
  std::sort(cores.begin(), cores.end(), [&](const Core& a, const Core& b) {
    return std::make_pair(package_index[a.package_id], a.cpus.first()) <
           std::make_pair(package_index[b.package_id], b.cpus.first());
  });

  std::vector<ProcessingUnit> pus;
  for (std::size_t k = 0; k < cores.size(); ++k) {
    int rank = 0;
    for (int c = cores[k].cpus.first(); c >= 0; c = cores[k].cpus.next(c)) {
      ProcessingUnit p;
      p.os_index = c;
      p.core = static_cast<int>(k);
      p.package = package_index[cores[k].package_id];
      p.node = std::max(layout->node_of_cpu(c), 0);
      p.smt_rank = rank++;
      pus.push_back(p);
    }
  }
  std::vector<NumaNode> nodes = layout->nodes();
  DistanceMatrix dist = nodes.size() > 1 ? node_distances(read, nodes) : DistanceMatrix(1);
  return Topology(std::move(nodes), std::move(pus), std::move(dist));
}

}  // namespace numa_agent
