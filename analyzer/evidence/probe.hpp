// Run-time probes shared by `record` and `topology`: the machine from sysfs, and which perf
// capabilities this kernel/CPU/permission level offers, each with the exact errno.
#pragma once
#include <string>
#include <vector>

#include "agent/os/perf_event.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// Nodes, CPUs, memory and distances from /sys/devices/system/node, NUMA balancing and
// perf_event_paranoid from /proc/sys/kernel. Without /sys/devices/system/node: one node.
MachineInfo probe_machine();

// How to sample memory accesses precisely on this CPU. Fails when it cannot: ENOENT (no IBS
// or PEBS PMU exposed), EINVAL (the mem-loads alias does not resolve); Error::what says which.
struct MemorySamplingPlan {
  std::string name;            // "ibs_op" or "cpu/mem-loads,ldlat=30/P"
  os::PerfEventSpec spec;
  std::string detail;
};
Result<MemorySamplingPlan> plan_memory_sampling(double frequency_hz);

// Event specs numa-analyze opens (also used by the capability probe).
os::PerfEventSpec page_fault_spec(std::uint64_t period);
os::PerfEventSpec migration_spec();
os::PerfEventSpec node_counter_spec(bool misses);
// The CPU model's own local/remote DRAM counting events, by name through libpfm4 (AMD Zen 3/4
// DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM, Intel Skylake-SP MEM_LOAD_L3_MISS_RETIRED): where the
// generic node-loads/node-load-misses are not mapped (every AMD Zen).
struct DramCounterPlan {
  std::string detail;                 // "zen3: local <event>, remote <event>"
  os::PerfEventSpec local, remote;
};
Result<DramCounterPlan> plan_dram_counters();

// Opens each event on the calling process (pid 0) and closes it again: one probe per event kind
// (source: the event's name; used: it opened).
std::vector<EvidenceProbe> probe_capabilities();

// One sentence on why perf_event_open failed with `error` for this kind of event.
std::string explain_perf_error(int error, int paranoid, bool hardware);

}  // namespace numa_agent::analyzer
