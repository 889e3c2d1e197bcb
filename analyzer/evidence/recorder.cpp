// See recorder.hpp. One Session per recording, a chain of named steps: describe the machine,
// start the program (launch suspended, or attach), start every evidence source, release the
// program, poll the sources until the program or the recording ends, stop the program, finish
// the sources. The sources (sources.hpp) hold the evidence; the Session only sequences them.
#include "analyzer/evidence/recorder.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>

#include "agent/os/launch.hpp"
#include "agent/os/perf_event.hpp"
#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/recorded_program.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

// The Session's sources, in the order they run (see sources.hpp for why the order matters).
std::vector<std::unique_ptr<EvidenceSource>> record_sources(const RecordOptions& options) {
  std::vector<std::unique_ptr<EvidenceSource>> sources;
  sources.push_back(make_perf_sampling(options));
  sources.push_back(make_thread_residency(options));
  sources.push_back(make_watchpoint_sampling(options));
  sources.push_back(make_page_placement(options));
  sources.push_back(make_vmstat_delta(options));
  sources.push_back(make_task_numa_faults(options));
  sources.push_back(make_agent_profile(options));
  return sources;
}

class Session {
 public:
  Session(const RecordOptions& options, const ProgressSink& progress)
      : opt_(options), progress_(progress), sources_(record_sources(options)) {}
  ~Session() {
    if (interrupt_fd_ >= 0) os::close_fd(interrupt_fd_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Result<Recording> run();

 private:
  void describe_machine();
  Result<void> start_program();
  Result<void> start_sources();
  void start_clock();
  std::string poll_until_end();
  void poll_sources(bool last);
  bool interrupted();
  void end_program(const std::string& reason);
  void finish_sources();
  void report_progress(const std::string& reason, bool final_line);

  RecordOptions opt_;
  ProgressSink progress_;
  Recording rec_;
  RecordingClock clock_;
  ThreadTable threads_{clock_};
  ResidentMappings mappings_;
  std::vector<AccessSample> samples_;
  Evidence evidence_{rec_, clock_, threads_, mappings_, samples_};
  int interrupt_fd_ = -1;
  std::vector<int> wait_fds_;   // interrupt_fd_ first, then the sources' wake fds
  std::vector<EvidenceSource*> wait_owner_;   // the source of each wait fd (none for the first)
  RecordedProgram program_;
  // Last: destroyed first, so perf events close before a never-released child is killed.
  std::vector<std::unique_ptr<EvidenceSource>> sources_;
};

void Session::describe_machine() {
  rec_.tool_version = NUMA_AGENT_VERSION;
  rec_.agent = opt_.agent;
  rec_.machine = probe_machine();
}

Result<void> Session::start_program() {
  // Before the fork, so that a launched program's exit (SIGCHLD) and Ctrl-C both wake the poll.
  interrupt_fd_ = os::interrupt_fd_open(/*wake_on_child_exit=*/opt_.pid <= 0);
  rec_.mode = opt_.pid > 0 ? "attach" : "launch";
  Result<void> started =
      opt_.pid > 0 ? program_.attach(opt_.pid) : program_.launch(opt_.command, opt_.agent ? opt_.agent_library : "");
  rec_.command = program_.command();
  return started;
}

Result<void> Session::start_sources() {
  Target target;
  target.pid = program_.pid();
  target.launched = program_.launched();
  target.tids = program_.launched() ? std::vector<int>{program_.pid()} : list_tids(program_.pid());
  target.machine = &rec_.machine;
  target.cpus = CpuNodes(rec_.machine).cpus();
  target.agent_profile_dir = program_.agent_profile_dir();
  for (auto& source : sources_)
    if (auto started = source->start(target, evidence_); !started) return started;
  return {};
}

void Session::start_clock() {
  rec_.pid = program_.pid();
  rec_.start_realtime_ns = os::realtime_ns();
  clock_.start();
}

void Session::poll_sources(bool last) {
  // Half of each poll interval is for the sources' work, shared equally; the rest is for waiting.
  const std::uint64_t budget_ns = std::uint64_t(opt_.poll_ms) * 1'000'000 / (2 * sources_.size());
  ThreadTable::Changes changes = threads_.take_changes();   // those of the previous round
  const PollRound round{last, budget_ns, changes.started, changes.exited};
  for (auto& source : sources_) source->poll(round, evidence_);
}

bool Session::interrupted() {
  // SIGCHLD only cuts the wait short: the next round reaps the program after a last drain.
  if (wait_fds_.empty()) {
    wait_fds_.push_back(interrupt_fd_), wait_owner_.push_back(nullptr);
    for (const auto& source : sources_)
      for (int fd : source->wake_fds()) wait_fds_.push_back(fd), wait_owner_.push_back(source.get());
  }
  // A source whose fd wakes the wait is polled alone (its ring drained), and the wait goes on:
  // the other sources keep their cadence.
  const std::uint64_t deadline = os::monotonic_ns() + std::uint64_t(opt_.poll_ms) * 1'000'000;
  for (std::uint64_t now = os::monotonic_ns(); now < deadline; now = os::monotonic_ns()) {
    const int ready = os::wait_readable_any(wait_fds_, int((deadline - now + 999'999) / 1'000'000));
    if (ready < 0) return false;
    if (ready == 0) return os::interrupt_fd_take(interrupt_fd_) == os::SignalTaken::Interrupt;
    const std::vector<int> none;
    wait_owner_[std::size_t(ready)]->poll(PollRound{false, 0, none, none}, evidence_);
  }
  return false;
}

std::string Session::poll_until_end() {
  const double progress_every_s = os::is_terminal(2) ? 1.0 : 10.0;
  double next_progress_s = 1.0;
  for (;;) {
    poll_sources(false);
    if (auto ended = program_.ended()) return *ended;
    const double t = clock_.now_s();
    if (opt_.duration_s > 0 && t >= opt_.duration_s) return "duration";
    if (progress_ && t >= next_progress_s) {
      report_progress("", false);
      next_progress_s = t + progress_every_s;
    }
    if (interrupted()) return "interrupted";
  }
}

void Session::end_program(const std::string& reason) {
  // While the target still lives, the sources take their last snapshots.
  if (reason != "exited" && reason != "vanished") poll_sources(true);
  rec_.duration_s = clock_.now_s();
  rec_.stop_reason = reason;
  program_.stop(reason, interrupt_fd_);
  rec_.exit_code = program_.exit_code();
  rec_.exit_signal = program_.exit_signal();
}

void Session::finish_sources() {
  for (auto& source : sources_) source->finish(evidence_);
  key_buckets_by_mapping(rec_);
  rec_.threads = threads_.records();
}

void Session::report_progress(const std::string& reason, bool final_line) {
  char line[240];
  const auto samples = [](std::uint64_t n) { return static_cast<unsigned long long>(n); };
  if (!final_line)
    std::snprintf(line, sizeof line, "recording PID %d: %.0f s, %zu threads, %llu fault / %llu migration / %llu PMU samples",
                  rec_.pid, clock_.now_s(), threads_.all().size(), samples(rec_.fault_samples),
                  samples(rec_.migration_samples), samples(rec_.pmu_samples));
  else
    std::snprintf(line, sizeof line, "recorded PID %d for %.2f s (%s): %zu threads, %llu fault, %llu migration, %llu PMU samples%s",
                  rec_.pid, rec_.duration_s, reason.c_str(), rec_.threads.size(), samples(rec_.fault_samples),
                  samples(rec_.migration_samples), samples(rec_.pmu_samples),
                  rec_.lost_records ? (", " + std::to_string(rec_.lost_records) + " lost").c_str() : "");
  progress_(line, final_line);
}

Result<Recording> Session::run() {
  describe_machine();
  if (auto started = start_program(); !started) return fail(started.error());
  if (auto started = start_sources(); !started) return fail(started.error());
  start_clock();
  if (auto released = program_.release(); !released) return fail(released.error());
  const std::string reason = poll_until_end();
  end_program(reason);
  finish_sources();
  if (progress_) report_progress(reason, true);
  return std::move(rec_);
}

}  // namespace

Result<Recording> record(const RecordOptions& options, const ProgressSink& progress) {
  if (options.pid <= 0 && options.command.empty()) return fail(EINVAL, "nothing to record: give a command after -- or -p PID");
  Session session(options, progress);
  return session.run();
}

}  // namespace numa_agent::analyzer
