// Every evidence source of `record` (evidence_source.hpp), one factory each, in the order the
// Session runs them: samplers before page placement (which places their samples), probes in this
// order in the Recording.
#pragma once
#include <memory>

#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/recorder.hpp"

namespace numa_agent::analyzer {

// perf_event_open: page-fault samples (first touch, NUMA hint faults), cpu-migrations samples,
// PMU memory samples (IBS, PEBS) and node-loads counters.
std::unique_ptr<EvidenceSource> make_perf_sampling(const RecordOptions& options);
// One-shot hardware watchpoints on the program's resident words (watchpoint_source.hpp): access
// samples without a PMU and without hint faults, and every probe as an exposure.
std::unique_ptr<EvidenceSource> make_watchpoint_sampling(const RecordOptions& options);
// /proc/PID/task/TID/stat polls: the CPU (so the node) each thread runs on.
std::unique_ptr<EvidenceSource> make_thread_residency(const RecordOptions& options);
// numa_maps snapshots and move_pages: where the program's pages are, and each sample's page.
std::unique_ptr<EvidenceSource> make_page_placement(const RecordOptions& options);
// /proc/vmstat numa_* counters from start to end (NUMA-balancing hint faults).
std::unique_ptr<EvidenceSource> make_vmstat_delta(const RecordOptions& options);
// /proc/PID/task/TID/sched snapshots: per-thread NUMA faults by memory node, se.nr_migrations.
std::unique_ptr<EvidenceSource> make_task_numa_faults(const RecordOptions& options);
// libnumaagent.so's profile (record --agent), folded in at the end.
std::unique_ptr<EvidenceSource> make_agent_profile(const RecordOptions& options);

}  // namespace numa_agent::analyzer
