// numa-analyze topology: nodes, CPUs, memory per node, distances, and which perf capabilities work.
// Exit: 0 shown, 3 the output could not be written.
#include <algorithm>

#include "agent/os/perf_event.hpp"
#include "analyzer/commands/commands.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/views/render_text.hpp"
#include "analyzer/views/topology_view.hpp"

namespace numa_agent::analyzer {

void register_topology_command(CLI::App& app, int& exit_code) {
  auto format = std::make_shared<std::string>("text");
  CLI::App* sub = app.add_subcommand("topology", "Show NUMA nodes, distances and perf capabilities");
  sub->add_option("--format", *format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  sub->callback([format, &exit_code] {
    MachineInfo machine = probe_machine();
    std::vector<std::string> pmus = os::pmu_names().value_or({});
    std::sort(pmus.begin(), pmus.end());
    nlohmann::json topo = topology_json(machine, probe_capabilities(), pmus);
    exit_code = write_output("", *format == "json" ? topo.dump(2) + "\n" : render_topology_text(topo)) ? kExitOk : kExitFailed;
  });
}

}  // namespace numa_agent::analyzer
