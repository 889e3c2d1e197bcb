// See launch.hpp.
#include "launch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace numa_agent::os {

Result<LaunchedChild> launch_suspended(const std::vector<std::string>& argv,
                                       const std::vector<std::pair<std::string, std::string>>& set_env) {
  if (argv.empty()) return fail(EINVAL, "launch: empty command");
  // Everything the child needs is built before fork: the child may only make async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    bool overridden = false;
    for (const auto& [name, value] : set_env)
      if (std::strncmp(*e, name.c_str(), name.size()) == 0 && (*e)[name.size()] == '=') overridden = true;
    if (!overridden) env_strings.emplace_back(*e);
  }
  for (const auto& [name, value] : set_env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return fail(errno, "pipe2");
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(go[0]);
    close(go[1]);
    return fail(e, "pipe2");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(go[0]); close(go[1]); close(err[0]); close(err[1]);
    return fail(e, "fork");
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    close(go[1]);
    close(err[0]);
    char byte = 0;
    ssize_t n;
    do n = read(go[0], &byte, 1); while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);   // the parent gave up before releasing us
    environ = envp.data();
    execvp(argp[0], argp.data());
    int e = errno;
    (void)!write(err[1], &e, sizeof(e));
    _exit(127);
  }
  close(go[0]);
  close(err[1]);
  return LaunchedChild{pid, go[1], err[0]};
}

int release_child(LaunchedChild& child) {
  char byte = 1;
  ssize_t n;
  do n = write(child.go_fd, &byte, 1); while (n < 0 && errno == EINTR);
  close(child.go_fd);
  child.go_fd = -1;
  int exec_errno = 0;
  do n = read(child.exec_error_fd, &exec_errno, sizeof(exec_errno)); while (n < 0 && errno == EINTR);
  close(child.exec_error_fd);
  child.exec_error_fd = -1;
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    int status = 0;
    while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {}
    return -exec_errno;
  }
  return 0;
}

namespace {
ChildStatus decode_status(int status) {
  ChildStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}
}  // namespace

Result<std::optional<ChildStatus>> poll_child(int pid) {
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG); while (r < 0 && errno == EINTR);
  if (r < 0) return fail(errno, "waitpid");
  if (r == 0) return std::optional<ChildStatus>{};
  return std::optional<ChildStatus>{decode_status(status)};
}

Result<ChildStatus> wait_child(int pid) {
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, 0); while (r < 0 && errno == EINTR);
  if (r < 0) return fail(errno, "waitpid");
  return decode_status(status);
}

int send_signal(int pid, int signal) { return kill(pid, signal) == 0 ? 0 : -errno; }
int interrupt_signal() { return SIGINT; }

int interrupt_fd_open(bool wake_on_child_exit) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (wake_on_child_exit) sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return -errno;
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

SignalTaken interrupt_fd_take(int fd) {
  signalfd_siginfo info{};
  ssize_t n = read(fd, &info, sizeof(info));
  if (n != static_cast<ssize_t>(sizeof(info))) return SignalTaken::None;
  return info.ssi_signo == SIGCHLD ? SignalTaken::ChildExit : SignalTaken::Interrupt;
}

int wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : -errno;
  return r > 0 ? 1 : 0;
}

int wait_readable_any(std::vector<int>& fds, int timeout_ms) {
  std::vector<pollfd> p;
  for (int fd : fds) p.push_back({fd, POLLIN, 0});
  if (poll(p.data(), p.size(), timeout_ms) <= 0) return -1;
  int first = -1;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if ((p[i].revents & POLLIN) && first < 0) first = static_cast<int>(i);
    else if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL)) fds[i] = -1;
  }
  return first;
}

bool is_terminal(int fd) { return isatty(fd) == 1; }

Result<std::string> make_temp_directory(const std::string& prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return fail(errno, "mkdtemp " + templ);
  return std::string(buf.data());
}

int remove_file(const std::string& path) { return unlink(path.c_str()) == 0 ? 0 : -errno; }
int remove_directory(const std::string& path) { return rmdir(path.c_str()) == 0 ? 0 : -errno; }
int check_readable(const std::string& path) { return access(path.c_str(), R_OK) == 0 ? 0 : -errno; }

Result<std::string> executable_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) return fail(errno, "/proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace numa_agent::os
