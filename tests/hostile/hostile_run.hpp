// The hostile suite's way of running a program (tests/support/run_under_agent.hpp): from a clean
// agent environment (no inherited NUMA_AGENT_* or LD_PRELOAD), in a scratch directory, with a time
// limit. Test helper: uses the OS directly.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "../support/run_under_agent.hpp"

namespace numa_agent::hostile {

using Outcome = test::ProgramResult;
using Env = test::EnvList;
using test::agent_library;
using test::build_dir;
using test::lines_of;
using test::read_file;
using test::test_program;

inline std::string hostile_program(const std::string& name) { return build_dir() + "/tests/hostile/" + name; }

// A fresh, empty scratch directory under the build tree (not /tmp: the tests must not depend on
// what other users put there), world-traversable so that an unprivileged child can reach it.
inline std::string scratch_dir(const std::string& name) {
  // Per process: ctest -j runs the cases of this file side by side, each in its own process, and
  // "baseline" is made by several of them.
  const std::string dir = build_dir() + "/tests/hostile/scratch/" + std::to_string(getpid()) + "/" + name;
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) return "";
  for (std::string d = dir; d.size() > build_dir().size(); d = d.substr(0, d.rfind('/'))) chmod(d.c_str(), 0755);
  return dir;
}

// Runs argv[0] (an absolute path) in `cwd` with the inherited environment minus every NUMA_AGENT_*
// variable and LD_PRELOAD, plus `env`.
inline Outcome run(const std::vector<std::string>& argv, const Env& env, const std::string& cwd,
                   int timeout_seconds = 60) {
  return test::run_program(argv, {.env = env, .clean_agent_env = true, .cwd = cwd, .timeout_seconds = timeout_seconds});
}

}  // namespace numa_agent::hostile
