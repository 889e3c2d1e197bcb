// Runs a program under a controlled environment with a time limit, capturing stdout, stderr and
// status. Unlike tests/integration/run_program.hpp it starts from a clean agent environment (no
// inherited NUMA_AGENT_* or LD_PRELOAD), passes values byte for byte (newlines, 64 KiB, invalid
// UTF-8), sets the working directory, and reports a hang instead of hanging. Test helper: uses the
// OS directly.
#pragma once
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace numa_agent::hostile {

struct Outcome {
  int status = -1;          // exit code, or 128+signal
  bool timed_out = false;   // killed after the time limit
  std::string out;
  std::string err;
};

using Env = std::vector<std::pair<std::string, std::string>>;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string build_dir() { return NUMA_AGENT_BUILD_DIR; }
inline std::string agent_library() { return build_dir() + "/libnumaagent.so"; }
inline std::string test_program(const std::string& name) { return build_dir() + "/tests/programs/" + name; }
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
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (entry.rfind("NUMA_AGENT_", 0) == 0 || entry.rfind("LD_PRELOAD=", 0) == 0) continue;
    envs.push_back(entry);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);

  const std::string out_path = cwd + "/.stdout", err_path = cwd + "/.stderr";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(125);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    close_range(3, ~0u, 0);   // nothing inherited from the test runner (ctest keeps pipes open)
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  Outcome r;
  int st = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return r;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace numa_agent::hostile
