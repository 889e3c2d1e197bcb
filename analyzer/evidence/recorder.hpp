// `record`: launches or attaches to a program, samples every evidence source that the machine and
// permissions allow (evidence_source.hpp, sources.hpp), and returns a Recording. All kernel access
// goes through agent/os.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

struct RecordOptions {
  std::vector<std::string> command;   // launch mode
  int pid = 0;                        // attach mode when > 0
  bool agent = false;                 // launch under libnumaagent.so
  std::string agent_library;          // resolved path, required when `agent`
  double pmu_frequency_hz = 1000;     // precise memory sampling rate
  double duration_s = 0;              // 0: until the program exits (or Ctrl-C)
  std::uint64_t fault_period = 1;     // sample every Nth page fault
  int poll_ms = 50;                   // ring drain and thread residency polling
  int snapshot_ms = 250;              // numa_maps and sched snapshots
  bool watch = true;                  // hardware-watchpoint sampling, where breakpoints work
  double watch_rate = 0;              // its probes per second; 0: from the self-test's trap cost and a 2 % budget
};

// Progress lines (already formatted) for a live display; `final_line` ends a \r-updated line.
using ProgressSink = std::function<void(std::string_view line, bool final_line)>;

// A failure ends `record` without a recording; Error::what is one line, for "numa-analyze: <what>".
// Error::code EINVAL: nothing to record (options); ESRCH: the PID to attach to does not exist or
// is a zombie; any other: the errno of what could not be done (exec, perf_event_open, /proc).
Result<Recording> record(const RecordOptions& options, const ProgressSink& progress);

}  // namespace numa_agent::analyzer
