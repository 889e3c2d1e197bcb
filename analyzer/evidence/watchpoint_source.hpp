// Hardware-watchpoint sampling as an evidence source of `record` and of `top -p PID`
// (watchpoint_sampler.hpp does the sampling). WatchpointFeed runs one WatchpointSampler on a
// thread of its own, polled every 2 ms as the sampler was validated (the Session's rounds are
// 50 ms apart, longer than the adaptive windows); the caller feeds it thread starts and exits and
// the mappings it reads, and takes the hits. The pure helpers below turn the sampler's results
// into the Recording's records: each hit an AccessSample (source "watchpoint", memory node known),
// each probe, hit or cold, into an ExposureBucket, and one EvidenceProbe.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/error.hpp"
#include "analyzer/evidence/evidence_source.hpp"
#include "analyzer/evidence/watchpoint_sampler.hpp"

namespace numa_agent::analyzer {

class WatchpointFeed {
 public:
  // Attaches a sampler to every thread of `pid` (the self-test given, or run now) and starts its
  // thread. Fails with the sampler's reason when breakpoints are refused or the process is gone.
  // Start it after blocking SIGINT/SIGTERM (os::interrupt_fd_open): its thread inherits the mask,
  // else a Ctrl-C meant for the signalfd kills the process.
  static Result<std::unique_ptr<WatchpointFeed>> start(int pid, MachineInfo machine, const WatchpointOptions& options,
                                                       const os::BreakpointSelfTest* self_test = nullptr);
  ~WatchpointFeed();
  WatchpointFeed(const WatchpointFeed&) = delete;
  WatchpointFeed& operator=(const WatchpointFeed&) = delete;

  void thread_started(int tid);
  void thread_exited(int tid);
  void set_mappings(const ResidentMappings& mappings);
  // Hits resolved since the previous call.
  std::vector<WatchpointSample> take_hits();
  // Stops the thread, drains what is left and closes every event; idempotent.
  void stop();

  // Everything so far (complete after stop()).
  std::vector<WatchpointSample> samples() const;
  std::vector<WatchpointColdProbe> cold() const;
  WatchpointCounters counters() const;

 private:
  explicit WatchpointFeed(std::unique_ptr<WatchpointSampler> sampler);
  void loop();

  mutable std::mutex mutex_;
  std::unique_ptr<WatchpointSampler> sampler_;   // guarded by mutex_
  std::size_t taken_ = 0;                        // samples handed out by take_hits
  bool stopping_ = false;
  std::thread thread_;
};

// Pure: a hit as an AccessSample (source "watchpoint", mem_class "hit"); its time on `clock`.
AccessSample watchpoint_access_sample(const WatchpointSample& hit, const RecordingClock& clock);

// Pure: every probe, hit or cold, by thread, memory node (the page's when hit, where it was when
// aimed when cold) and mapping; a hit's window is its time to hit (the time it was armed).
std::vector<ExposureBucket> watchpoint_exposures(const std::vector<WatchpointSample>& hits,
                                                 const std::vector<WatchpointColdProbe>& cold);

// Pure: the "watchpoint-sampling" probe of a run: probes, hits, cold, the rate, refusals.
EvidenceProbe watchpoint_used_probe(const WatchpointCounters& counters, std::size_t hits, std::size_t cold);
// Pure: the probe when the sampler could not start: the error, its reason and the paranoid level
// (-99: unknown).
EvidenceProbe watchpoint_refused_probe(const Error& error, int perf_event_paranoid);

}  // namespace numa_agent::analyzer
