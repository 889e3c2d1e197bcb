// `top`'s evidence. TopSampler polls a running process through /proc (thread CPUs, sched NUMA
// faults, numa_maps, vmstat) with the readers `record` uses (proc_readers.hpp), and keeps the
// evidence since top started as a Recording, which the command scores like any other; beside it,
// a TopSample of what only a live view has (each thread's current CPU and node, migrations since
// the previous refresh, the system-wide hint-fault locality of the last interval).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/evidence/proc_readers.hpp"
#include "analyzer/evidence/watchpoint_source.hpp"
#include "analyzer/model/recording.hpp"
#include "analyzer/model/top_sample.hpp"

namespace numa_agent::analyzer {

class TopSampler {
 public:
  // Fails (Error::code ESRCH) when `pid` does not exist or is a zombie, or with the errno of
  // /proc/PID/stat when it cannot be read.
  static Result<TopSampler> watch(int pid, MachineInfo machine);
  // Hardware-watchpoint sampling of the process from now on (its hits and exposures join the
  // recording at every refresh); when refused, the refresh's evidence says why.
  void watch_accesses(const WatchpointOptions& options);
  // One residency poll of every thread's CPU. False once the process has exited.
  bool poll_threads();
  // numa_maps, maps, sched and vmstat; then the sample. nullopt once the process has exited.
  std::optional<TopSample> refresh(double interval_s);
  // The evidence since top started, as of the last refresh.
  const Recording& recording() const { return rec_; }

 private:
  struct ThreadState {
    ThreadRecord record;
    int cpu = -1, node = -1;
    std::uint64_t node_migrations_at_refresh = 0;
    std::optional<std::uint64_t> first_nr_migrations;
    bool alive = false;
  };
  struct SchedOutcome {
    int reads = 0;
    bool numa_lines = false, faults_nonzero = false;
  };
  TopSampler(int pid, MachineInfo machine);
  double now_s() const;
  SchedOutcome read_sched();
  // False when numa_maps is unreadable because the process is gone.
  bool read_mappings(TopSample& sample);
  void read_vmstat_interval(TopSample& sample);
  void collect_threads(TopSample& sample);
  void describe_evidence(const SchedOutcome& sched);
  void collect_watchpoints();

  int pid_;
  Recording rec_;
  CpuNodes cpu_nodes_;
  std::uint64_t start_ns_ = 0;
  std::map<int, ThreadState> threads_;
  std::vector<int> thread_order_;                 // tids in the order /proc listed them last
  std::map<std::string, std::uint64_t> vmstat_start_, vmstat_last_;
  std::uint64_t polls_ = 0;
  int numa_maps_error_ = 0, sched_error_ = 0;
  int numa_maps_reads_ = 0;
  std::unique_ptr<WatchpointFeed> watch_;        // null: not asked, or refused (watch_refused_)
  std::optional<EvidenceProbe> watch_refused_;
};

}  // namespace numa_agent::analyzer
