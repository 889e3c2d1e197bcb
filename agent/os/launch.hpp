// Starting and watching the program that numa-analyze records: fork a child that waits for a go
// signal before exec (so perf events can be attached to it first), waitpid, signals, and Ctrl-C
// delivered as a readable file descriptor (signalfd) instead of a handler with global state.
// Contract: os.hpp.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "os.hpp"

namespace numa_agent::os {

struct LaunchedChild {
  int pid = -1;
  int go_fd = -1;          // write end: one byte lets the child exec
  int exec_error_fd = -1;  // read end: closed on successful exec, else carries the exec errno
};

// fork(); the child resets its signal mask, waits for the go byte, then execvp(argv) with the
// current environment plus `set_env` (NAME, value). The parent gets the pid at once.
Result<LaunchedChild> launch_suspended(const std::vector<std::string>& argv,
                                       const std::vector<std::pair<std::string, std::string>>& set_env);
// Lets the child exec. 0 when exec succeeded, else -errno of the failed execvp (the child has
// then exited with status 127 and been reaped).
int release_child(LaunchedChild& child);

struct ChildStatus {
  bool exited = false;     // normal exit; otherwise killed by `signal`
  int exit_code = 0;
  int signal = 0;
};
// waitpid(pid, WNOHANG): nullopt while the child runs.
Result<std::optional<ChildStatus>> poll_child(int pid);
Result<ChildStatus> wait_child(int pid);
int send_signal(int pid, int signal);   // 0 or -errno
int interrupt_signal();                 // SIGINT, for callers that forward it

// Blocks SIGINT and SIGTERM (and SIGCHLD when `wake_on_child_exit`, so that a poll on the fd ends
// the moment a launched child exits instead of at the next timeout) for the calling thread and
// returns a non-blocking signalfd that becomes readable when one arrives, or -errno.
int interrupt_fd_open(bool wake_on_child_exit = false);
enum class SignalTaken { None, Interrupt, ChildExit };
// What is waiting on the fd (consumed): SIGINT/SIGTERM, SIGCHLD, or nothing.
SignalTaken interrupt_fd_take(int fd);
// poll(fd, POLLIN, timeout_ms): 1 readable, 0 timeout, -errno.
int wait_readable(int fd, int timeout_ms);
// poll() on all of `fds` (negative entries are skipped): the index of the first readable one, or -1
// after timeout_ms. An fd that reports only POLLHUP/POLLERR (a perf event whose task exited) is set
// to -1, so it cannot end every later wait at once.
int wait_readable_any(std::vector<int>& fds, int timeout_ms);
bool is_terminal(int fd);

// ---- files around the launched program ----
// mkdtemp under $TMPDIR (or /tmp) with `prefix`: the new directory's path.
Result<std::string> make_temp_directory(const std::string& prefix);
int remove_file(const std::string& path);        // unlink: 0 or -errno
int remove_directory(const std::string& path);   // rmdir (empty): 0 or -errno
int check_readable(const std::string& path);     // access(R_OK): 0 or -errno
// /proc/self/exe resolved.
Result<std::string> executable_path();

}  // namespace numa_agent::os
