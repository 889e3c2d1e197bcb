// numa-analyze record: launch (-- ./app args) or attach (-p PID), sample, write the recording.
// Exit: 0 recorded, 2 bad usage or a PID that does not exist, 3 the recording could not be made
// (the program did not start, perf or /proc refused, the output could not be written) or the
// attached PID exited before --duration (the file then holds what was sampled).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/install_layout.hpp"
#include "agent/os/launch.hpp"
#include "analyzer/commands/commands.hpp"
#include "analyzer/evidence/recorder.hpp"

namespace numa_agent::analyzer {
namespace {

struct RecordArgs {
  std::string output = kDefaultRecordingPath;
  bool agent = false;
  double freq = 1000;
  double duration = 0;
  int pid = 0;
  std::uint64_t fault_period = 1;
  double watch_rate = 0;
  bool no_watch = false;
  std::vector<std::string> command;
};

// libnumaagent.so: $NUMA_AGENT_LIB, else beside this executable (the build directory), else in
// the installed tree's library directory (agent_library_candidates, agent/install_layout.hpp).
std::string find_agent_library(std::string& error) {
  if (const char* env = std::getenv("NUMA_AGENT_LIB"); env && *env) {
    if (int rc = os::check_readable(env); rc < 0) {
      error = std::string("NUMA_AGENT_LIB=") + env + ": " + std::strerror(-rc);
      return "";
    }
    return env;
  }
  auto exe = os::executable_path();
  if (auto* err = (exe ? nullptr : &exe.error())) {
    error = "cannot locate libnumaagent.so: /proc/self/exe: " + std::string(std::strerror(err->code));
    return "";
  }
  const auto candidates = agent_library_candidates(*exe);
  std::string path = candidates.front();
  for (const auto& candidate : candidates)
    if (os::check_readable(candidate) == 0) { path = candidate; break; }
  if (int rc = os::check_readable(path); rc < 0) {
    error = "--agent: " + path + ": " + std::strerror(-rc) + "; build the numaagent target or set NUMA_AGENT_LIB";
    return "";
  }
  return path;
}

int run_record(const RecordArgs& args) {
  RecordOptions options;
  options.command = args.command;
  options.pid = args.pid;
  options.agent = args.agent;
  options.pmu_frequency_hz = args.freq;
  options.duration_s = args.duration;
  options.fault_period = args.fault_period;
  options.watch = !args.no_watch;
  options.watch_rate = args.watch_rate;
  if (args.pid > 0 && !args.command.empty()) {
    print_error("record: give either -p PID or a command after --, not both");
    return kExitBadInput;
  }
  if (args.pid <= 0 && args.command.empty()) {
    print_error("record: nothing to record: give a command after -- or -p PID");
    return kExitBadInput;
  }
  if (args.agent) {
    if (args.pid > 0) {
      print_error("record: --agent launches the program under the agent; it cannot attach to -p PID");
      return kExitBadInput;
    }
    std::string error;
    options.agent_library = find_agent_library(error);
    if (options.agent_library.empty()) {
      print_error(error);
      return kExitFailed;
    }
  }
  const bool live = os::is_terminal(2);
  ProgressSink progress = [live](std::string_view line, bool final_line) {
    if (live && !final_line) std::fprintf(stderr, "\r\033[K[numa-analyze] %.*s", int(line.size()), line.data());
    else std::fprintf(stderr, "%s[numa-analyze] %.*s\n", live ? "\r\033[K" : "", int(line.size()), line.data());
    std::fflush(stderr);
  };
  auto recorded = record(options, progress);
  if (!recorded) {
    print_error(recorded.error().what);
    // A PID that does not exist is bad input; anything else could not be done.
    return recorded.error().code == ESRCH || recorded.error().code == EINVAL ? kExitBadInput : kExitFailed;
  }
  const Recording& recording = *recorded;
  if (!write_output(args.output, serialize_recording(recording))) return kExitFailed;
  std::fprintf(stderr, "[numa-analyze] wrote %s\n", args.output.c_str());
  // A program that died (the OOM killer, a crash) or failed is worth a line: its recording is short.
  if (recording.stop_reason == "exited" && (recording.exit_signal > 0 || recording.exit_code > 0)) {
    const char* name = recording.exit_signal > 0 ? sigabbrev_np(recording.exit_signal) : nullptr;
    print_error("the program " +
                (recording.exit_signal > 0 ? "was killed by signal " + std::to_string(recording.exit_signal) +
                                                 (name ? std::string(" (SIG") + name + ")" : std::string())
                                           : "exited with status " + std::to_string(recording.exit_code)) +
                " after " + std::to_string(recording.duration_s).substr(0, 4) + " s; " + args.output +
                " holds what was sampled");
  }
  if (recording.stop_reason == "vanished" && args.duration > 0 && recording.duration_s < args.duration) {
    print_error("PID " + std::to_string(recording.pid) + " exited after " + std::to_string(recording.duration_s).substr(0, 4) +
                " s of the requested " + std::to_string(args.duration).substr(0, 4) + " s; " + args.output +
                " holds what was sampled");
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void register_record_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RecordArgs>();
  CLI::App* sub = app.add_subcommand("record", "Run a program (or attach to a PID) and record NUMA evidence");
  sub->add_option("-o,--output", args->output, "recording file (written atomically)")->capture_default_str();
  sub->add_flag("--agent", args->agent, "run the program under libnumaagent.so and fold its profile in");
  sub->add_option("--freq", args->freq, "precise memory sampling frequency in Hz (PMU)")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--duration", args->duration, "stop after S seconds (a launched program is then sent SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-p,--pid", args->pid, "attach to a running process")->check(CLI::PositiveNumber);
  sub->add_option("--fault-period", args->fault_period, "sample every Nth page fault")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--watch-rate", args->watch_rate,
                  "hardware-watchpoint probes per second (0: the rate a 2 % overhead budget allows, from the self-test)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_flag("--no-watch", args->no_watch, "do not sample accesses with hardware watchpoints");
  sub->add_option("command", args->command, "program and its arguments (after --)");
  sub->callback([args, &exit_code] { exit_code = run_record(*args); });
}

}  // namespace numa_agent::analyzer
