// Runs a program, with or without the agent preloaded, and captures its stdout, stderr and exit
// status: the one runner of the integration, pool, hostile and analyzer suites (run_shell for a
// command line with variables and redirections). The environment is the
// inherited one (optionally without any NUMA_AGENT_* variable or LD_PRELOAD) plus the given
// entries, passed byte for byte (newlines, 64 KiB, invalid UTF-8). The child gets /dev/null or a
// file as stdin and no other inherited descriptor (ctest keeps pipes open). With a time limit a
// hang is reported instead of hanging. Test helper: uses the OS directly.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace numa_agent::test {

struct ProgramResult {
  int status = -1;          // exit code, or 128+signal
  bool timed_out = false;   // killed after the time limit
  std::string out;
  std::string err;
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct RunOptions {
  EnvList env;                        // added to the environment, replacing a variable of that name
  bool clean_agent_env = false;       // drop inherited NUMA_AGENT_* and LD_PRELOAD first
  std::string cwd;                    // empty: the test's own
  std::string stdin_path = "/dev/null";
  int timeout_seconds = 0;            // 0: no limit (ctest's applies)
};

inline std::string build_dir() { return NUMA_AGENT_BUILD_DIR; }
inline std::string agent_library() { return build_dir() + "/libnumaagent.so"; }
inline std::string test_program(const std::string& name) { return build_dir() + "/tests/programs/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

inline bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// Lines of `text` that start with `prefix` ("numa-analyze:" error lines).
inline int lines_starting_with(const std::string& text, const std::string& prefix) {
  const std::vector<std::string> lines = lines_of(text);
  return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

// A fresh directory under /tmp (/tmp/PREFIX-XXXXXX), removed with its contents when it goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "numa-agent-test") {
    std::string templ = "/tmp/" + prefix + "-XXXXXX";
    if (!mkdtemp(templ.data())) throw std::runtime_error("cannot create " + templ);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  // Entries in the directory (a temporary file left behind shows here).
  std::size_t file_count() const {
    std::error_code ignored;
    auto entries = std::filesystem::directory_iterator(path_, ignored);
    return static_cast<std::size_t>(std::distance(begin(entries), end(entries)));
  }

 private:
  std::string path_;
};

namespace detail {
inline std::vector<std::string> environment_for(const RunOptions& options) {
  auto replaced = [&](const std::string& entry) {
    for (const auto& [name, value] : options.env)
      if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=') return true;
    return false;
  };
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (options.clean_agent_env && (entry.rfind("NUMA_AGENT_", 0) == 0 || entry.rfind("LD_PRELOAD=", 0) == 0)) continue;
    if (!replaced(entry)) envs.push_back(std::move(entry));
  }
  for (const auto& [name, value] : options.env) envs.push_back(name + "=" + value);
  return envs;
}

// Waits for pid, killing it after `timeout_seconds` (0: no limit). Returns the wait status.
inline int wait_for(pid_t pid, int timeout_seconds, bool& timed_out) {
  int st = 0;
  if (timeout_seconds <= 0) {
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return st;
}
}  // namespace detail

// argv[0] is looked up in PATH when it has no slash.
inline ProgramResult run_program(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  std::vector<std::string> envs = detail::environment_for(options);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);

  char out_path[] = "/tmp/numa-agent-test-out-XXXXXX";
  char err_path[] = "/tmp/numa-agent-test-err-XXXXXX";
  const int out_fd = mkostemp(out_path, O_CLOEXEC), err_fd = mkostemp(err_path, O_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) {
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(125);
    const int in = open(options.stdin_path.c_str(), O_RDONLY);
    dup2(in, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    close_range(3, ~0u, 0);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  ProgramResult r;
  const int st = pid > 0 ? detail::wait_for(pid, options.timeout_seconds, r.timed_out) : 0;
  r.status = pid < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  unlink(out_path);
  unlink(err_path);
  return r;
}

// `command` through /bin/sh -c: for command lines with variables, redirections or pipes.
inline ProgramResult run_shell(const std::string& command, const RunOptions& options = {}) {
  return run_program({"/bin/sh", "-c", command}, options);
}

// The same with libnumaagent.so preloaded, ahead of an LD_PRELOAD the caller gives (e.g. another
// allocator as the real one).
inline ProgramResult run_under_agent(const std::vector<std::string>& argv, RunOptions options = {}) {
  std::string preload = agent_library();
  for (auto it = options.env.begin(); it != options.env.end(); ++it)
    if (it->first == "LD_PRELOAD") {
      preload += ":" + it->second;
      options.env.erase(it);
      break;
    }
  options.env.emplace_back("LD_PRELOAD", preload);
  return run_program(argv, options);
}

}  // namespace numa_agent::test
