// The /proc reads that `record`'s sources and `top`'s sampler share: each reads through agent/os
// and parses with proc_parsers.hpp, once.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/evidence/proc_parsers.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// "/proc/PID/<leaf>"
std::string proc_path(int pid, const std::string& leaf);

// /proc/PID/cmdline as arguments; empty when unreadable.
std::vector<std::string> read_command_line(int pid);
// /proc/vmstat; empty when unreadable.
std::map<std::string, std::uint64_t> read_vmstat();
// now - then for `key`, 0 when either lacks it or the counter went backwards.
std::uint64_t vmstat_delta(const std::map<std::string, std::uint64_t>& now,
                           const std::map<std::string, std::uint64_t>& then, const std::string& key);
// The numa_* counters' deltas since `start` (keys present at both ends).
std::map<std::string, std::uint64_t> numa_vmstat_deltas(const std::map<std::string, std::uint64_t>& now,
                                                        const std::map<std::string, std::uint64_t>& start);

// /proc/PID/task/TID/stat of every thread listed now (threads that end meanwhile are skipped).
// Fails only when the task directory cannot be listed (the process is gone or unreadable).
Result<std::vector<TaskStat>> read_task_stats(int pid);
Result<TaskSched> read_task_sched(int pid, int tid);
// Thread ids listed in /proc/PID/task; empty when unreadable.
std::vector<int> list_tids(int pid);

Result<std::vector<NumaMapsEntry>> read_numa_maps(int pid);
// /proc/PID/maps; empty when unreadable (an exited program's maps also read empty).
std::vector<MapsEntry> read_maps(int pid);
// numa_maps entries as MappingRecords: ends from `maps` (else from the resident page count),
// names from maps when numa_maps has none, pages by node index of `machine`.
std::vector<MappingRecord> mapping_records(const std::vector<NumaMapsEntry>& numa_maps,
                                           const std::vector<MapsEntry>& maps, const MachineInfo& machine);
// Every bucket's mapping key (first touches, accesses, exposures) as the start of the Recording's
// mapping that contains it. The kernel merges an anonymous block with an anonymous neighbour made
// later (a thread's stack below it): the block's first touches name its own start, later samples
// and the snapshots the merged mapping's. Keys inside no mapping stay as they are. Buckets that
// become equal are summed.
void key_buckets_by_mapping(Recording& rec);

// CPU number -> node index of `machine`, O(1) (samples look it up thousands of times).
class CpuNodes {
 public:
  explicit CpuNodes(const MachineInfo& machine);
  int node_of(int cpu) const {
    return cpu >= 0 && static_cast<std::size_t>(cpu) < node_.size() ? node_[static_cast<std::size_t>(cpu)] : -1;
  }
  const std::vector<int>& cpus() const { return cpus_; }   // every CPU of the machine, ascending

 private:
  std::vector<int> node_;
  std::vector<int> cpus_;
};

}  // namespace numa_agent::analyzer
