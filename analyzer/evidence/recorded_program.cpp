// See recorded_program.hpp.
#include "analyzer/evidence/recorded_program.hpp"

#include <cerrno>

#include "agent/os/perf_event.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/proc_readers.hpp"

namespace numa_agent::analyzer {

Result<void> RecordedProgram::attach(int pid) {
  pid_ = pid;
  const std::string maps_path = proc_path(pid, "maps");
  auto maps = os::read_text_file(maps_path);
  if (!maps) {
    int err = maps.error().code;
    if (err == ENOENT || err == ESRCH) return fail(ESRCH, "no process with PID " + std::to_string(pid));
    return fail(err, "cannot record PID " + std::to_string(pid) + ": " + maps_path + ": " + describe_errno(err) +
                         "; numa-analyze needs ptrace read access to the target (same user, or CAP_SYS_PTRACE)");
  }
  if (!os::process_running(pid)) return fail(ESRCH, "PID " + std::to_string(pid) + " is not running (zombie)");
  command_ = read_command_line(pid);
  return {};
}

Result<void> RecordedProgram::launch(const std::vector<std::string>& command, const std::string& agent_library) {
  command_ = command;
  std::vector<std::pair<std::string, std::string>> env;
  if (!agent_library.empty()) {
    auto dir = os::make_temp_directory("numa-analyze-agent-");
    if (!dir)
      return fail(dir.error().code,
                  "cannot create a temporary directory for the agent profile: " + describe_errno(dir.error().code));
    temp_dir_ = *dir;
    const char* existing = os::environment_value("LD_PRELOAD");
    env.emplace_back("LD_PRELOAD", agent_library + (existing && *existing ? std::string(":") + existing : ""));
    env.emplace_back("NUMA_AGENT_PROFILE", temp_dir_ + "/profile-%p.json");
  }
  auto child = os::launch_suspended(command, env);
  if (!child)
    return fail(child.error().code, "cannot start '" + command[0] + "': " + child.error().what + ": " +
                                        describe_errno(child.error().code));
  child_ = *child;
  pid_ = child_.pid;
  launched_ = true;
  return {};
}

Result<void> RecordedProgram::release() {
  if (!launched_) return {};
  if (int rc = os::release_child(child_); rc < 0) {
    reaped_ = true;   // release_child reaped the child whose exec failed
    return fail(-rc, "cannot run '" + command_[0] + "': " + describe_errno(-rc));
  }
  return {};
}

void RecordedProgram::reaped(const os::ChildStatus& status) {
  exit_code_ = status.exited ? status.exit_code : -1;
  exit_signal_ = status.signal;
  reaped_ = true;
}

std::optional<std::string> RecordedProgram::ended() {
  if (!launched_) return os::process_running(pid_) ? std::nullopt : std::optional<std::string>("vanished");
  auto status = os::poll_child(pid_);
  if (status && *status) {
    reaped(**status);
    return "exited";
  }
  return std::nullopt;
}

void RecordedProgram::stop(const std::string& reason, int interrupt_fd) {
  if (!launched_ || reaped_) return;
  os::send_signal(pid_, reason == "interrupted" ? os::interrupt_signal() : 15 /* SIGTERM */);
  for (int waited = 0; waited < 5000; waited += 50) {
    auto status = os::poll_child(pid_);
    if (status && *status) return reaped(**status);
    if (os::wait_readable(interrupt_fd, 50) > 0) os::interrupt_fd_take(interrupt_fd);   // else it stays readable
  }
  os::send_signal(pid_, 9);
  auto status = os::wait_child(pid_);
  if (status) exit_signal_ = status->signal;
  reaped_ = true;
}

RecordedProgram::~RecordedProgram() {
  if (launched_ && !reaped_) {
    // Set-up failed after fork: the child is still waiting for its go byte.
    if (child_.go_fd >= 0) os::close_fd(child_.go_fd);
    if (child_.exec_error_fd >= 0) os::close_fd(child_.exec_error_fd);
    os::send_signal(pid_, 9);
    (void)os::wait_child(pid_);   // reaping is all that matters here
  }
  if (!temp_dir_.empty()) {
    if (auto files = os::list_directory(temp_dir_))
      for (const auto& f : *files) os::remove_file(temp_dir_ + "/" + f);
    os::remove_directory(temp_dir_);
  }
}

}  // namespace numa_agent::analyzer
