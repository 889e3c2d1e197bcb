// Topology from hwloc: this machine, an XML file, or a synthetic description (numa-analyze, the
// launcher and the tests; not libnumaagent.so).
#include <hwloc.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>

#include "os.hpp"

namespace numa_agent::os {
namespace {

CpuSet from_hwloc(hwloc_const_bitmap_t bm) {
  CpuSet s;
  if (!bm) return s;
  for (int i = hwloc_bitmap_first(bm); i >= 0; i = hwloc_bitmap_next(bm, i)) s.add(i);
  return s;
}

// hwloc dlopens every plugin it finds when a topology is initialised (Debian ships GL, OpenCL,
// PCI and libxml ones, which pull in their own libraries): 5 of the agent's 9 ms of start-up per
// process. Discovering CPUs and nodes needs none of them, and hwloc reads the plugin blacklist only
// from the environment, so it is set around the init when the user has not set it, then removed.
// Only the tools call this for this machine (before they start threads); libnumaagent.so reads
// sysfs itself (os/sysfs_topology.cpp) and does not link hwloc.
class PluginBlacklistScope {
 public:
  PluginBlacklistScope() {
    if (getenv("HWLOC_PLUGINS_BLACKLIST") || getenv("HWLOC_PLUGINS_PATH")) return;
    set_ = setenv("HWLOC_PLUGINS_BLACKLIST", "hwloc_gl,hwloc_opencl,hwloc_pci,hwloc_xml_libxml,"
                  "hwloc_cuda,hwloc_nvml,hwloc_rsmi,hwloc_levelzero", 0) == 0;
  }
  ~PluginBlacklistScope() { if (set_) unsetenv("HWLOC_PLUGINS_BLACKLIST"); }
  PluginBlacklistScope(const PluginBlacklistScope&) = delete;
  PluginBlacklistScope& operator=(const PluginBlacklistScope&) = delete;
 private:
  bool set_ = false;
};

struct TopologyHandle {
  hwloc_topology_t t = nullptr;
  ~TopologyHandle() { if (t) hwloc_topology_destroy(t); }
};

}  // namespace

Result<Topology> load_topology(const TopologySource& source) {
  TopologyHandle h;
  {
    std::optional<PluginBlacklistScope> no_plugins;
    if (source.kind == TopologySource::Kind::ThisMachine) no_plugins.emplace();
    if (hwloc_topology_init(&h.t) != 0) return fail(errno, "hwloc_topology_init");
  }
  int rc = 0;
  switch (source.kind) {
    case TopologySource::Kind::ThisMachine:
      // Without sysfs, hwloc prints its own unprefixed complaint and guesses a topology from
      // CPUID; say plainly that the topology is unknown instead.
      if (access("/sys/devices/system/cpu", R_OK | X_OK) != 0)
        return fail(errno, "/sys/devices/system/cpu is not readable (is /sys mounted?)");
      break;
    case TopologySource::Kind::XmlFile:
      rc = hwloc_topology_set_xml(h.t, source.text.c_str());
      if (rc != 0) return fail(errno ? errno : EINVAL, "hwloc XML " + source.text);
      break;
    case TopologySource::Kind::Synthetic:
      rc = hwloc_topology_set_synthetic(h.t, source.text.c_str());
      if (rc != 0) return fail(EINVAL, "hwloc synthetic \"" + source.text + "\"");
      break;
  }
  if (hwloc_topology_load(h.t) != 0) return fail(errno, "hwloc_topology_load");

  std::vector<NumaNode> nodes;
  std::map<unsigned, int> node_index_by_os;
  const int n_nodes = hwloc_get_nbobjs_by_type(h.t, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < n_nodes; ++i) {
    hwloc_obj_t o = hwloc_get_obj_by_type(h.t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    NumaNode n;
    n.os_index = static_cast<int>(o->os_index);
    n.cpus = from_hwloc(o->cpuset);
    n.memory_bytes = o->attr ? o->attr->numanode.local_memory : 0;
    node_index_by_os[o->os_index] = static_cast<int>(nodes.size());
    nodes.push_back(n);
  }
  if (nodes.empty()) {  // hwloc always reports one node; be defensive for odd XML
    NumaNode n;
    n.cpus = from_hwloc(hwloc_topology_get_topology_cpuset(h.t));
    nodes.push_back(n);
    node_index_by_os[0] = 0;
  }

  std::vector<ProcessingUnit> pus;
  const int n_pus = hwloc_get_nbobjs_by_type(h.t, HWLOC_OBJ_PU);
  for (int i = 0; i < n_pus; ++i) {
    hwloc_obj_t o = hwloc_get_obj_by_type(h.t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    ProcessingUnit p;
    p.os_index = static_cast<int>(o->os_index);
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(h.t, HWLOC_OBJ_CORE, o);
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(h.t, HWLOC_OBJ_PACKAGE, o);
    // Without a Core level each PU is its own core; keep core indices disjoint from PU ones.
    p.core = core ? static_cast<int>(core->logical_index) : 1000000 + i;
    p.package = pkg ? static_cast<int>(pkg->logical_index) : 0;
    p.smt_rank = core ? static_cast<int>(o->sibling_rank) : 0;
    p.node = 0;
    for (std::size_t k = 0; k < nodes.size(); ++k)
      if (nodes[k].cpus.contains(p.os_index)) { p.node = static_cast<int>(k); break; }
    pus.push_back(p);
  }

  DistanceMatrix dist(static_cast<int>(nodes.size()));
  const int n = static_cast<int>(nodes.size());
  if (!source.distances.empty()) {
    if (source.distances.size() != static_cast<std::size_t>(n * n))
      return fail(EINVAL, "distance override has " + std::to_string(source.distances.size()) +
                                 " values, expected " + std::to_string(n * n));
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) dist.set(a, b, source.distances[static_cast<std::size_t>(a * n + b)]);
  } else {
    unsigned nr = 1;
    hwloc_distances_s* d = nullptr;
    if (hwloc_distances_get_by_type(h.t, HWLOC_OBJ_NUMANODE, &nr, &d,
                                    HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) == 0 && nr >= 1 && d) {
      for (unsigned a = 0; a < d->nbobjs; ++a)
        for (unsigned b = 0; b < d->nbobjs; ++b) {
          auto ia = node_index_by_os.find(d->objs[a]->os_index);
          auto ib = node_index_by_os.find(d->objs[b]->os_index);
          if (ia != node_index_by_os.end() && ib != node_index_by_os.end())
            dist.set(ia->second, ib->second, static_cast<std::uint32_t>(d->values[a * d->nbobjs + b]));
        }
      hwloc_distances_release(h.t, d);
    }
  }
  return Topology(std::move(nodes), std::move(pus), std::move(dist));
}

}  // namespace numa_agent::os
