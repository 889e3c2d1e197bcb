// numa-agent: runs a command under libnumaagent.so with likwid-pin's flags (-c, -s, -q, -p).
// Each flag becomes the NUMA_AGENT_* variable of the option table; the agent is found beside this
// executable or in the installed library directory, appended to LD_PRELOAD, and the command is
// exec'ed, so its exit status is the command's.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/install_layout.hpp"
#include "agent/os/exec_command.hpp"
#include "agent/os/launch.hpp"
#include "agent/os/os.hpp"
#include "launcher/affinity_domains.hpp"
#include "launcher/launch_plan.hpp"

namespace {

using namespace numa_agent;

constexpr int kExitUsage = 2;       // bad flag or value: the command never started
constexpr int kExitNotRun = 127;    // the command or the agent could not be found (shell convention)

int complain(int status, const std::string& message) {
  std::fprintf(stderr, "numa-agent: %s\n", message.c_str());
  return status;
}

std::string describe(const Error& e) {
  return e.code ? e.what + ": " + std::strerror(e.code) : e.what;
}

Result<Topology> allowed_topology() {
  auto topology = os::load_topology({});
  if (!topology) return topology;
  return topology->restricted_to(os::process_allowed_cpus());
}

Result<std::string> find_agent_library() {
  auto exe = os::executable_path();
  if (!exe) return fail(exe.error());
  const auto candidates = agent_library_candidates(*exe);
  for (const auto& path : candidates)
    if (os::check_readable(path) == 0) return path;
  return fail(0, "libnumaagent.so not found beside " + *exe + " nor in its ../lib directories");
}

}  // namespace

int main(int argc, char** argv) {
  auto plan = launcher::parse_launcher_arguments(std::vector<std::string>(argv + 1, argv + argc));
  if (!plan) {
    std::fprintf(stderr, "numa-agent: %s\n%s", plan.error().what.c_str(), launcher::usage_text().c_str());
    return kExitUsage;
  }
  if (plan->show_help) {
    std::fputs(launcher::usage_text().c_str(), stdout);
    return 0;
  }
  const std::string pin = launcher::planned_value(*plan, "NUMA_AGENT_PIN");
  const std::string rules = launcher::planned_value(*plan, "NUMA_AGENT_RULES");
  const std::string config = launcher::planned_value(*plan, "NUMA_AGENT_CONFIG");
  if (plan->print_domains || !pin.empty() || !rules.empty() || !config.empty()) {
    auto topology = allowed_topology();
    if (!topology) return complain(kExitNotRun, "topology: " + describe(topology.error()));
    if (plan->print_domains) {
      std::fputs(launcher::affinity_domains_text(*topology).c_str(), stdout);
      return 0;
    }
    if (std::string why = pin.empty() ? "" : launcher::pin_problem(pin, *topology); !why.empty())
      return complain(kExitUsage, "-c '" + pin + "': " + why);
    // Role rules are checked whole before the command runs (the agent itself skips a bad rule).
    std::string document;
    if (!config.empty()) {
      auto text = os::read_file(config);
      if (!text) return complain(kExitUsage, "--config '" + config + "': " + std::strerror(text.error().code));
      document = std::move(*text);
    }
    if (auto problems = launcher::rules_problems(rules, document, config, *topology); !problems.empty()) {
      for (std::string p : problems) {   // the agent would skip the rule; the launcher runs nothing
        if (p.ends_with("; rule ignored")) p.resize(p.size() - 14);
        std::fprintf(stderr, "numa-agent: %s\n", p.c_str());
      }
      return kExitUsage;
    }
  }
  auto agent = find_agent_library();
  if (!agent) return complain(kExitNotRun, describe(agent.error()));
  auto environment = plan->environment;
  const char* preload = os::environment_value("LD_PRELOAD");
  environment.emplace_back("LD_PRELOAD", launcher::preload_with_agent(preload ? preload : "", *agent));
  const int rc = os::exec_command(plan->command, environment);
  return complain(kExitNotRun, plan->command.front() + ": " + std::strerror(-rc));
}
