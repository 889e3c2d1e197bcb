// The program `record` records, apart from what is sampled of it: launched suspended (so every
// evidence source can attach before its first instruction; under libnumaagent.so its profile goes
// to a temporary directory) or attached to by PID; watched for its end; stopped and reaped when
// the recording ends first. The destructor kills a child that never ran and removes the directory.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/error.hpp"
#include "agent/os/launch.hpp"

namespace numa_agent::analyzer {

class RecordedProgram {
 public:
  RecordedProgram() = default;
  RecordedProgram(const RecordedProgram&) = delete;
  RecordedProgram& operator=(const RecordedProgram&) = delete;
  ~RecordedProgram();

  // Error::code ESRCH: no such process, or a zombie (the PID is bad input); else the errno of the
  // /proc read that failed (EACCES: no ptrace read access).
  Result<void> attach(int pid);
  // `agent_library` non-empty: run under it (LD_PRELOAD) with its profile in a temporary directory.
  Result<void> launch(const std::vector<std::string>& command, const std::string& agent_library);
  // Lets a launched program exec (a no-op when attached).
  Result<void> release();

  int pid() const { return pid_; }
  bool launched() const { return launched_; }
  const std::vector<std::string>& command() const { return command_; }
  const std::string& agent_profile_dir() const { return temp_dir_; }

  // nullopt while the program runs; else why the recording ends: "exited" (launched, now reaped)
  // or "vanished" (attached).
  std::optional<std::string> ended();
  // The recording ends first ("duration", "interrupted"): a launched program is sent SIGINT
  // (interrupted) or SIGTERM, then SIGKILL after 5 s, and reaped. `interrupt_fd` is drained meanwhile.
  void stop(const std::string& reason, int interrupt_fd);

  int exit_code() const { return exit_code_; }       // -1 unless it exited normally
  int exit_signal() const { return exit_signal_; }

 private:
  void reaped(const os::ChildStatus& status);

  int pid_ = 0;
  bool launched_ = false;
  bool reaped_ = false;
  os::LaunchedChild child_;
  std::vector<std::string> command_;
  std::string temp_dir_;
  int exit_code_ = -1, exit_signal_ = 0;
};

}  // namespace numa_agent::analyzer
