// numa-agent's command line, likwid-pin style: each flag is a NUMA_AGENT_* option of the option
// table (agent/options.cpp), checked with the table's own parser before anything runs.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/error.hpp"

namespace numa_agent::launcher {

struct LaunchPlan {
  bool show_help = false;
  bool print_domains = false;   // -p: list the affinity domains and exit
  std::vector<std::pair<std::string, std::string>> environment;   // NUMA_AGENT_* = value, in flag order
  std::vector<std::string> command;
};

// `args` excludes argv[0]. A failure's `what` is the message for the user (exit status 2).
Result<LaunchPlan> parse_launcher_arguments(const std::vector<std::string>& args);

// The value the plan sets for `variable` (the last flag wins), or "" when no flag sets it.
std::string planned_value(const LaunchPlan& plan, std::string_view variable);

// LD_PRELOAD with the agent appended to what is already there (kept, never replaced); unchanged
// when the agent is already in it.
std::string preload_with_agent(std::string_view existing, std::string_view agent_library);

std::string usage_text();

}  // namespace numa_agent::launcher
