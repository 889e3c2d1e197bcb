// Runs a program with or without LD_PRELOAD of the agent and reads its profile's "pools" section.
// Test helper: uses the OS directly.
#pragma once
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace numa_agent::pool::test {

struct Outcome {
  int status = -1;   // exit code, or 128 + signal
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string agent_so() { return std::string(NUMA_AGENT_BUILD_DIR) + "/libnumaagent.so"; }
inline std::string test_program(const std::string& name) {
  return std::string(NUMA_AGENT_BUILD_DIR) + "/tests/programs/" + name;
}

// Runs argv (through /bin/sh -c when it is one string with shell syntax) with env added.
inline Outcome run_program(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                           const std::string& cwd = "") {
  char out_path[] = "/tmp/pool-test-out-XXXXXX";
  char err_path[] = "/tmp/pool-test-err-XXXXXX";
  int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  close(out_fd);
  close(err_fd);
  Outcome o;
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  o.out = slurp(out_path);
  o.err = slurp(err_path);
  unlink(out_path);
  unlink(err_path);
  return o;
}

// Runs argv under the agent with NUMA_AGENT_PROFILE=<tmpdir>/p-%p.json and collects the profile
// of every process of the run (a shell pipeline writes several).
struct AgentRun {
  Outcome outcome;
  std::vector<nlohmann::json> profiles;
};

inline AgentRun run_under_agent(const std::vector<std::string>& argv, std::map<std::string, std::string> env = {},
                                const std::string& cwd = "") {
  char dir[] = "/tmp/pool-test-profiles-XXXXXX";
  if (!mkdtemp(dir)) return {};
  // An LD_PRELOAD given by the caller comes after the agent (e.g. another allocator as the real one).
  env["LD_PRELOAD"] = env.count("LD_PRELOAD") ? agent_so() + ":" + env["LD_PRELOAD"] : agent_so();
  env["NUMA_AGENT_PROFILE"] = std::string(dir) + "/p-%p.json";
  AgentRun r;
  r.outcome = run_program(argv, env, cwd);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto j = nlohmann::json::parse(slurp(entry.path()), nullptr, false);
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
