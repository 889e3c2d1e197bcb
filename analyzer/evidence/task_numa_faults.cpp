// Per-thread NUMA faults: /proc/PID/task/TID/sched snapshots (RecordOptions::snapshot_ms apart)
// give each thread's numa_faults by memory node (NUMA balancing's own account of where it
// accessed memory) and se.nr_migrations (CPU migrations, when perf cannot sample them).
#include <cerrno>

#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/sources.hpp"

namespace numa_agent::analyzer {
namespace {

class TaskNumaFaults final : public EvidenceSource {
 public:
  explicit TaskNumaFaults(const RecordOptions& options) : snapshot_s_(options.snapshot_ms / 1000.0) {}
  Result<void> start(const Target& target, Evidence&) override {
    pid_ = target.pid;
    return {};
  }
  void poll(const PollRound& round, Evidence& evidence) override {
    double now = evidence.clock.now_s();
    if (!round.last && now < next_snapshot_s_) return;
    snapshot(evidence.threads);
    next_snapshot_s_ = now + snapshot_s_;
  }
  void finish(Evidence& evidence) override;

 private:
  void snapshot(ThreadTable& threads);

  double snapshot_s_;
  double next_snapshot_s_ = 0;
  int pid_ = 0;
  int reads_ = 0, numa_lines_ = 0, error_ = 0;
};

void TaskNumaFaults::snapshot(ThreadTable& threads) {
  for (auto& [tid, t] : threads.all()) {
    auto sched = read_task_sched(pid_, tid);
    if (!sched) {
      int err = sched.error().code;
      if (err != ENOENT && err != ESRCH && !error_) error_ = err;
      continue;
    }
    ++reads_;
    if (sched->nr_migrations) {
      if (!t.first_nr_migrations) t.first_nr_migrations = sched->nr_migrations;
      t.last_nr_migrations = sched->nr_migrations;
    }
    if (!sched->numa_faults.empty()) {
      ++numa_lines_;
      t.record.numa_faults.clear();
      for (const auto& f : sched->numa_faults) t.record.numa_faults.push_back({f.node, f.task_private, f.task_shared});
    }
  }
}

void TaskNumaFaults::finish(Evidence& evidence) {
  bool nonzero = false;
  for (const auto& [tid, t] : evidence.threads.all())
    for (const auto& f : t.record.numa_faults) nonzero |= f.task_private + f.task_shared > 0;
  auto& probes = evidence.recording.evidence;
  if (reads_ == 0)
    probes.push_back(probe("task-numa-faults", false,
                           error_ ? "/proc/PID/task/TID/sched: " + describe_errno(error_) : "no thread lived long enough to be read",
                           error_));
  else if (numa_lines_ == 0)
    probes.push_back(probe("task-numa-faults", false,
                           "/proc/PID/task/TID/sched has no numa_faults lines (kernel without CONFIG_NUMA_BALANCING)"));
  else
    probes.push_back(probe("task-numa-faults", nonzero,
                           nonzero ? "per-thread numa_faults by memory node from /proc/PID/task/TID/sched"
                                   : "per-thread numa_faults are all zero (no NUMA balancing scans happened)"));
}

}  // namespace

std::unique_ptr<EvidenceSource> make_task_numa_faults(const RecordOptions& options) {
  return std::make_unique<TaskNumaFaults>(options);
}

}  // namespace numa_agent::analyzer
