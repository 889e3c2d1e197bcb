// Runs a program with extra environment variables and captures stdout, stderr and exit status.
// Test helper: uses the OS directly.
#pragma once
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace numa_agent::test {

struct ProgramResult {
  int status = -1;   // exit code, or 128+signal
  std::string out;
  std::string err;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string agent_library() { return std::string(NUMA_AGENT_BUILD_DIR) + "/libnumaagent.so"; }
inline std::string program(const std::string& name) { return std::string(NUMA_AGENT_BUILD_DIR) + "/tests/programs/" + name; }

// env entries "NAME=VALUE" are added to (or replace in) the inherited environment; "NAME=" with
// the special value "<unset>" removes NAME.
inline ProgramResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::string& stdin_path = "/dev/null") {
  char out_path[] = "/tmp/numa-agent-out-XXXXXX";
  char err_path[] = "/tmp/numa-agent-err-XXXXXX";
  int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) {
      if (v == "<unset>") unsetenv(k.c_str());
      else setenv(k.c_str(), v.c_str(), 1);
    }
    int in = open(stdin_path.c_str(), O_RDONLY);
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
  ProgramResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_all(out_path);
  r.err = read_all(err_path);
  unlink(out_path);
  unlink(err_path);
  return r;
}

inline ProgramResult run_with_agent(const std::vector<std::string>& argv, std::map<std::string, std::string> env = {}) {
  env["LD_PRELOAD"] = agent_library();
  return run(argv, env);
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace numa_agent::test
