// See topology_view.hpp.
#include "analyzer/views/topology_view.hpp"

#include "agent/cpu_set.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

json topology_json(const MachineInfo& m, const std::vector<EvidenceProbe>& capabilities, const std::vector<std::string>& pmus) {
  json nodes = json::array();
  std::size_t cpus = 0;
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    CpuSet node_cpus;
    for (int c : m.nodes[i].cpus) node_cpus.add(c);
    cpus += m.nodes[i].cpus.size();
    nodes.push_back({{"node", i}, {"os_index", m.nodes[i].os_index}, {"cpus", node_cpus.to_list_string()},
                     {"cpu_count", m.nodes[i].cpus.size()}, {"memory_bytes", m.nodes[i].memory_bytes},
                     {"distances", i < m.distances.size() ? json(m.distances[i]) : json::array()}});
  }
  json caps = json::array();
  for (const auto& c : capabilities)
    caps.push_back({{"name", c.source}, {"available", c.used}, {"detail", c.detail},
                    {"errno", c.error ? json(c.error) : json(nullptr)},
                    {"errno_name", c.error ? json(c.error_name) : json(nullptr)}});
  return {{"schema", "numa-analyze-topology/1"},
          {"summary", std::to_string(m.nodes.size()) + " NUMA node(s), " + std::to_string(cpus) + " CPUs"},
          {"kernel", m.kernel},
          {"numa_balancing", m.numa_balancing < 0 ? json(nullptr) : json(m.numa_balancing != 0)},
          {"perf_event_paranoid", m.perf_event_paranoid == -99 ? json(nullptr) : json(m.perf_event_paranoid)},
          {"nodes", nodes},
          {"pmus", pmus},
          {"capabilities", caps}};
}

}  // namespace numa_agent::analyzer
