// Runs a program under the agent (tests/support/run_under_agent.hpp) and reads the "pools"
// section of its profiles.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_under_agent.hpp"

namespace numa_agent::pool::test {

using numa_agent::test::EnvList;
using numa_agent::test::ProgramResult;
using numa_agent::test::read_file;
using numa_agent::test::run_program;
using numa_agent::test::test_program;

// Runs argv under the agent with NUMA_AGENT_PROFILE=<tmpdir>/p-%p.json and collects the profile
// of every process of the run (a shell pipeline writes several).
struct AgentRun {
  ProgramResult outcome;
  std::vector<nlohmann::json> profiles;
};

inline AgentRun run_with_profiles(const std::vector<std::string>& argv, EnvList env = {}) {
  char dir[] = "/tmp/pool-test-profiles-XXXXXX";
  if (!mkdtemp(dir)) return {};
  env.emplace_back("NUMA_AGENT_PROFILE", std::string(dir) + "/p-%p.json");
  AgentRun r;
  r.outcome = numa_agent::test::run_under_agent(argv, {.env = std::move(env)});
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto j = nlohmann::json::parse(read_file(entry.path()), nullptr, false);
    if (!j.is_discarded()) r.profiles.push_back(std::move(j));
  }
  std::filesystem::remove_all(dir);
  return r;
}

inline std::uint64_t pool_allocations(const nlohmann::json& profile) {
  if (!profile.is_object() || !profile.contains("pools") || !profile["pools"].value("enabled", false)) return 0;
  return profile["pools"]["totals"]["pool_allocations"].get<std::uint64_t>();
}

// Pool allocations of the processes whose command line starts with a program named `name`.
inline std::uint64_t pool_allocations_of(const AgentRun& run, const std::string& name) {
  std::uint64_t total = 0;
  for (const auto& p : run.profiles) {
    if (!p.contains("command") || p["command"].empty()) continue;
    std::string cmd = p["command"][0].get<std::string>();
    if (cmd == name || (cmd.size() > name.size() && cmd.ends_with("/" + name))) total += pool_allocations(p);
  }
  return total;
}

}  // namespace numa_agent::pool::test
