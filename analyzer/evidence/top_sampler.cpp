// See top_sampler.hpp.
#include "analyzer/evidence/top_sampler.hpp"

#include <algorithm>
#include <cerrno>

#include "agent/os/os.hpp"
#include "agent/os/procfs.hpp"
#include "analyzer/evidence/evidence_source.hpp"

namespace numa_agent::analyzer {

Result<TopSampler> TopSampler::watch(int pid, MachineInfo machine) {
  const std::string stat_path = proc_path(pid, "stat");
  auto stat = os::read_text_file(stat_path);
  if (!stat) {
    int err = stat.error().code;
    if (err == ENOENT || err == ESRCH) return fail(ESRCH, "no process with PID " + std::to_string(pid));
    return fail(err, "cannot watch PID " + std::to_string(pid) + ": " + stat_path + ": " + describe_errno(err));
  }
  if (!os::process_running(pid)) return fail(ESRCH, "PID " + std::to_string(pid) + " is not running (zombie)");
  return TopSampler(pid, std::move(machine));
}

TopSampler::TopSampler(int pid, MachineInfo machine) : pid_(pid), cpu_nodes_(machine) {
  rec_.machine = std::move(machine);
  rec_.mode = "attach";
  rec_.pid = pid;
  rec_.stop_reason = "duration";
  rec_.tool_version = NUMA_AGENT_VERSION;
  rec_.command = read_command_line(pid);
  vmstat_start_ = vmstat_last_ = read_vmstat();
  start_ns_ = os::monotonic_ns();
}

void TopSampler::watch_accesses(const WatchpointOptions& options) {
  // top has no thread table or mapping snapshots of its own to feed: the sampler reads its own.
  auto feed = WatchpointFeed::start(pid_, rec_.machine, options);
  if (feed) watch_ = std::move(*feed), watch_refused_.reset();
  else watch_refused_ = watchpoint_refused_probe(feed.error(), rec_.machine.perf_event_paranoid);
}

// Every hit and probe since top started, as the recording's accesses and exposures.
void TopSampler::collect_watchpoints() {
  if (watch_refused_) rec_.evidence.push_back(*watch_refused_);
  if (!watch_) return;
  const auto hits = watch_->samples();
  const auto cold = watch_->cold();
  std::erase_if(rec_.accesses, [](const AccessBucket& a) { return a.source == "watchpoint"; });
  for (auto& b : watchpoint_access_buckets(hits)) rec_.accesses.push_back(std::move(b));
  rec_.exposures = watchpoint_exposures(hits, cold);
  rec_.evidence.push_back(watchpoint_used_probe(watch_->counters(), hits.size(), cold.size()));
}

double TopSampler::now_s() const { return double(os::monotonic_ns() - start_ns_) / 1e9; }

bool TopSampler::poll_threads() {
  auto stats = read_task_stats(pid_);
  if (!stats || !os::process_running(pid_)) return false;
  const double t = now_s();
  for (auto& [tid, ts] : threads_) ts.alive = false;
  thread_order_.clear();
  for (const auto& stat : *stats) {
    auto [it, inserted] = threads_.try_emplace(stat.tid);
    ThreadState& ts = it->second;
    if (inserted) {
      ts.record.tid = stat.tid;
      ts.record.first_seen_s = t;
    }
    ts.alive = true;
    ts.record.name = stat.comm;
    ts.record.last_seen_s = t;
    ts.cpu = stat.processor;
    if (int node = cpu_nodes_.node_of(ts.cpu); node >= 0) {
      if (ts.node >= 0 && node != ts.node) ++ts.record.node_migrations;
      ts.node = node;
      ++ts.record.residency[node];
    }
    thread_order_.push_back(stat.tid);
  }
  // Threads that ended leave the live view.
  for (auto it = threads_.begin(); it != threads_.end();) it = it->second.alive ? std::next(it) : threads_.erase(it);
  ++polls_;
  return true;
}

// Per-thread sched: NUMA faults by memory node, CPU migrations.
TopSampler::SchedOutcome TopSampler::read_sched() {
  SchedOutcome outcome;
  for (auto& [tid, ts] : threads_) {
    auto sched = read_task_sched(pid_, tid);
    if (!sched) {
      sched_error_ = sched.error().code;
      continue;
    }
    ++outcome.reads;
    if (sched->nr_migrations) {
      if (!ts.first_nr_migrations) ts.first_nr_migrations = sched->nr_migrations;
      ts.record.cpu_migrations = *sched->nr_migrations - *ts.first_nr_migrations;
    }
    ts.record.numa_faults.clear();
    for (const auto& f : sched->numa_faults) {
      ts.record.numa_faults.push_back({f.node, f.task_private, f.task_shared});
      outcome.numa_lines = true;
      outcome.faults_nonzero |= f.task_total() > 0;
    }
  }
  return outcome;
}

bool TopSampler::read_mappings(TopSample& sample) {
  rec_.mappings.clear();
  auto numa_maps = read_numa_maps(pid_);
  if (!numa_maps) {
    numa_maps_error_ = numa_maps.error().code;
    if (!os::process_running(pid_)) return false;
    sample.notes.push_back("per-node memory unavailable: " + proc_path(pid_, "numa_maps") + ": " +
                           describe_errno(numa_maps_error_) + " (needs ptrace read access: same user or CAP_SYS_PTRACE)");
    return true;
  }
  ++numa_maps_reads_;
  rec_.mappings = mapping_records(*numa_maps, read_maps(pid_), rec_.machine);
  return true;
}

// System-wide hint faults: since start (the recording) and over the last interval (the sample).
void TopSampler::read_vmstat_interval(TopSample& sample) {
  auto vm = read_vmstat();
  rec_.vmstat_delta = numa_vmstat_deltas(vm, vmstat_start_);
  sample.hint_faults_interval = vmstat_delta(vm, vmstat_last_, "numa_hint_faults");
  if (sample.hint_faults_interval > 0)
    sample.hint_fault_locality_interval =
        double(vmstat_delta(vm, vmstat_last_, "numa_hint_faults_local")) / double(sample.hint_faults_interval);
  vmstat_last_ = vm;
}

void TopSampler::collect_threads(TopSample& sample) {
  rec_.threads.clear();
  for (int tid : thread_order_) {
    auto it = threads_.find(tid);
    if (it == threads_.end()) continue;
    ThreadState& ts = it->second;
    rec_.threads.push_back(ts.record);
    sample.threads.push_back({tid, ts.record.name, ts.cpu, ts.node, ts.record.node_migrations - ts.node_migrations_at_refresh});
    ts.node_migrations_at_refresh = ts.record.node_migrations;
  }
  std::sort(rec_.threads.begin(), rec_.threads.end(), [](const ThreadRecord& a, const ThreadRecord& b) {
    return a.first_seen_s != b.first_seen_s ? a.first_seen_s < b.first_seen_s : a.tid < b.tid;
  });
}

void TopSampler::describe_evidence(const SchedOutcome& sched) {
  const bool one_node = rec_.machine.nodes.size() < 2;
  rec_.evidence.clear();
  rec_.evidence.push_back(probe("thread-residency", polls_ > 0,
                                std::to_string(polls_) + " polls of /proc/PID/task/TID/stat field 39 (CPU last run on)"));
  rec_.evidence.push_back(probe("numa-maps", numa_maps_reads_ > 0,
                                numa_maps_reads_ > 0 ? "/proc/PID/numa_maps at every refresh"
                                                     : "/proc/PID/numa_maps: " + describe_errno(numa_maps_error_),
                                numa_maps_reads_ > 0 ? 0 : numa_maps_error_));
  std::string sched_detail = sched.reads == 0      ? "/proc/PID/task/TID/sched: " + describe_errno(sched_error_)
                             : !sched.numa_lines   ? "no numa_faults lines (kernel without CONFIG_NUMA_BALANCING)"
                             : sched.faults_nonzero ? "per-thread numa_faults by memory node from /proc/PID/task/TID/sched"
                                                    : "per-thread numa_faults are all zero (no NUMA balancing scans happened)";
  rec_.evidence.push_back(probe("task-numa-faults", sched.faults_nonzero && !one_node, sched_detail,
                                sched.reads == 0 ? sched_error_ : 0));
  rec_.evidence.push_back(probe("pmu-memory-sampling", false, "top reads /proc only; `numa-analyze record` samples the PMU"));
}

std::optional<TopSample> TopSampler::refresh(double interval_s) {
  if (!poll_threads()) return std::nullopt;
  TopSample sample;
  sample.pid = pid_;
  sample.interval_s = interval_s;
  sample.elapsed_s = now_s();
  for (const auto& a : rec_.command) sample.command += (sample.command.empty() ? "" : " ") + a;
  const SchedOutcome sched = read_sched();
  if (!read_mappings(sample)) return std::nullopt;
  read_vmstat_interval(sample);
  rec_.duration_s = sample.elapsed_s;
  collect_threads(sample);
  describe_evidence(sched);
  collect_watchpoints();
  return sample;
}

}  // namespace numa_agent::analyzer
