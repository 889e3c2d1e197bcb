// One evidence source of `numa-analyze record`: something the machine or the kernel shows about
// the recorded program (perf samples, thread residency polls, page placement snapshots, vmstat
// deltas, the agent's profile, ...). The recorder's Session launches or attaches to the program,
// then drives every source through the same three steps and knows nothing else about them:
//
//   start(target, evidence)   once, before the program runs: a launched program is still
//                             suspended (events opened now see its first instruction), an attached
//                             one already runs. Open events, take baselines. An Error here ends
//                             the recording without a file (say what failed and what would fix
//                             it). A source that merely cannot work records that in finish's probe.
//   poll(round, evidence)     every round while the program runs (RecordOptions::poll_ms apart),
//                             within round.budget_ns. Keep your own cadence for costly reads.
//                             round.last: the recording ends while the program still runs
//                             (duration reached, Ctrl-C): read now what must be read before it is
//                             stopped; counting polls may skip it.
//   finish(evidence)          once, after the program exited or was stopped and reaped: write your
//                             records and your EvidenceProbe(s) into evidence.recording (the
//                             Recording lists probes in the order of the Session's sources).
//
// What a source may use and write is all in `Evidence` below (no globals, no other source's
// members): the clock, the thread table (live tids; tids started/exited since the previous round
// arrive in round.started / round.exited), the mappings the program has resident, and the access
// sample queue. Access samples (tid, cpu, address, time, memory node) are emitted into
// evidence.samples; the page-placement source places each on its memory node (move_pages, unless
// the source knew it) and aggregates it into the Recording's accesses / first_touch buckets, so a
// source that emits samples runs before page placement in the Session's list.
//
// Adding a source: one new file in evidence/ with a class derived from EvidenceSource and its
// factory `make_...(const RecordOptions&)`, declared in sources.hpp and listed in the Session's
// sources (recorder.cpp). Only agent/os calls the OS; shared /proc reads are in proc_readers.hpp.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/evidence/proc_parsers.hpp"
#include "analyzer/evidence/thread_table.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// The recorded program, as the sources see it.
struct Target {
  int pid = 0;
  bool launched = false;           // started by record (suspended until every source started), else attached
  std::vector<int> tids;           // threads to attach per-thread events to: {pid} when launched (inherit
                                   // follows new threads), every thread at attach time otherwise
  const MachineInfo* machine = nullptr;
  std::vector<int> cpus;           // every CPU of `machine`, ascending
  std::string agent_profile_dir;   // where libnumaagent.so writes profile-PID.json; "" when not under the agent
};

// Seconds since the recording started. It starts when the program is released (after every
// start()), so timestamps are relative to the program's first instruction in launch mode.
class RecordingClock {
 public:
  void start();                                  // now is 0 s
  double now_s() const;
  // A perf timestamp (CLOCK_MONOTONIC, PerfEventSpec::clockid) on the same scale; 0 before start.
  double at_s(std::uint64_t monotonic_ns) const {
    return monotonic_ns > start_ns_ ? double(monotonic_ns - start_ns_) / 1e9 : 0.0;
  }
  std::uint64_t start_ns() const { return start_ns_; }

 private:
  std::uint64_t start_ns_ = 0;
};

// One sampled memory access, before it is placed on a memory node and aggregated.
struct AccessSample {
  bool first_touch = false;        // the first fault seen on its page: a FirstTouchBucket, by code site
  std::string_view source;         // AccessBucket::source: "pmu", "hint-fault", ... (a string literal)
  std::string_view mem_class = "fault";   // AccessBucket::mem_class (a literal, mem_class_name())
  int tid = 0;
  int cpu = -1;                    // CPU the access ran on
  std::uint64_t addr = 0;          // data address
  std::uint64_t ip = 0;            // instruction address (0: unknown); names the first-touch site
  double time_s = 0;               // RecordingClock seconds (kept for sources; buckets count, they keep no time)
  int memory_node = -1;            // node index when the source knows it; -1: placed by move_pages
  std::uint64_t weight = 0;        // PMU latency weight
  bool load = false;               // a load (PMU data source)
};

// What the program has mapped, as last read (kept after it exited, for samples drained late).
struct ResidentMappings {
  std::vector<MapsEntry> maps;            // /proc/PID/maps, sorted by start (find_mapping)
  std::vector<NumaMapsEntry> numa_maps;   // last /proc/PID/numa_maps with resident pages: pages per OS node
};

// Everything a source reads and writes while recording; owned by the Session.
struct Evidence {
  Recording& recording;            // probes, counters, sample counts, records (in finish)
  const RecordingClock& clock;
  ThreadTable& threads;
  ResidentMappings& mappings;      // written by the page-placement source
  std::vector<AccessSample>& samples;   // emitted by samplers, taken by page placement
};

// One round of the Session's loop.
struct PollRound {
  bool last = false;               // see the header comment
  std::uint64_t budget_ns = 0;     // how long this poll may take (a share of the poll interval)
  const std::vector<int>& started; // tids first seen during the previous round
  const std::vector<int>& exited;  // tids gone during the previous round
};

class EvidenceSource {
 public:
  virtual ~EvidenceSource() = default;
  virtual Result<void> start(const Target& target, Evidence& evidence) = 0;
  virtual void poll(const PollRound& round, Evidence& evidence) = 0;
  virtual void finish(Evidence& evidence) = 0;
  // Fds that poll readable when the source should be polled before the next round is due (a
  // sampling ring filling up); the recorder's wait ends on any of them.
  virtual std::vector<int> wake_fds() const { return {}; }
};

// One EvidenceProbe (errno_name filled in from `error`).
EvidenceProbe probe(std::string source, bool used, std::string detail, int error = 0);
// "Permission denied (EACCES)" for messages and probe details.
std::string describe_errno(int error);

}  // namespace numa_agent::analyzer
