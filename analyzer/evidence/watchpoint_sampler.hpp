// Access sampling without a PMU: one-shot hardware watchpoints (agent/os/breakpoint.hpp) aimed by
// the WatchpointScheduler at a running program's resident memory. Each hit says which thread
// touched which word, from which CPU, how soon after the probe was aimed; each probe that did not
// fire within its window says that thread left that word alone (cold). Works with NUMA balancing
// off and on plain-MPOL_BIND memory, where the kernel takes no hint faults.
//
// The sampler attaches to every thread of the target (/proc/PID/task, polled; thread_started()
// takes notifications of new ones), drains each thread's ring, resolves each hit's page to its
// node with move_pages and its CPU to a node, and keeps the results and counters. All kernel
// access goes through agent/os.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/error.hpp"
#include "agent/os/breakpoint.hpp"
#include "analyzer/evidence/proc_parsers.hpp"
#include "analyzer/evidence/watchpoint_scheduler.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

enum class WatchPath { Auto, Modify, Reopen };
// "auto" | "modify" | "reopen"; nullopt otherwise.
std::optional<WatchPath> parse_watch_path(std::string_view text);
std::string_view watch_path_name(WatchPath path);

struct WatchpointOptions {
  WatchPath path = WatchPath::Auto;        // Auto: what the self-test found
  double probes_per_second = 0;            // 0: default_probe_rate(self-test trap cost, overhead_budget)
  double overhead_budget = 0.02;           // fraction of one CPU, for the default rate
  std::uint64_t window_ns = WatchSchedulerConfig{}.window_ns;   // the window, or its bound when adaptive
  bool adaptive_window = WatchSchedulerConfig{}.adaptive;
  unsigned slots_per_thread = 4;
  bool broadcast = true;                   // each probe on every thread (watchpoint_scheduler.hpp)
  // Own reads, for a caller without a thread table or mappings of its own; 0: none (the caller
  // calls thread_started/thread_exited and set_mappings instead, as record's sources will).
  std::uint64_t threads_every_ns = 100'000'000;   // /proc/PID/task
  std::uint64_t regions_every_ns = 1'000'000'000; // /proc/PID/maps + numa_maps
  std::uint64_t seed = 1;
};

// One hit, resolved. Nodes are indices into MachineInfo::nodes (-1: unknown).
struct WatchpointSample {
  int tid = 0, cpu = -1, cpu_node = -1, memory_node = -1;
  std::uint64_t addr = 0, page = 0, mapping = 0, ip = 0;
  std::uint64_t time_ns = 0, time_to_hit_ns = 0;
};
struct WatchpointColdProbe {
  int tid = 0, memory_node = -1;
  std::uint64_t addr = 0, page = 0, mapping = 0, window_ns = 0;
};

struct WatchpointCounters {
  WatchSchedulerCounters scheduler;
  WatchPath path = WatchPath::Reopen;      // the path in use
  os::BreakpointSelfTest self_test;
  double probes_per_second = 0;            // the rate in use
  bool broadcast = false;                  // each probe armed on every thread
  std::uint64_t armed = 0;                 // probes armed in the kernel
  std::uint64_t modify_reaims = 0, reopen_reaims = 0;
  std::map<int, std::uint64_t> refused_by_errno;   // arm/open/attach failures other than ESRCH
  std::uint64_t polls = 0, poll_ns = 0;         // rounds of poll() and the time they took, of which:
  std::uint64_t drain_ns = 0, threads_ns = 0, regions_ns = 0, arm_ns = 0;
  std::uint64_t threads_attached = 0, threads_exited = 0;
  std::uint64_t lost_records = 0, decode_errors = 0, unresolved_pages = 0;
  int numa_maps_error = 0;                 // errno of the last failed numa_maps/maps read
  bool target_exited = false;
};

class WatchpointSampler {
 public:
  // Runs the self-test (unless `self_test` is given), attaches to every thread of `pid`. Fails
  // with a clear reason when breakpoints are refused (no breakpoint PMU, not permitted) or the
  // process is gone.
  static Result<std::unique_ptr<WatchpointSampler>> attach(int pid, MachineInfo machine, const WatchpointOptions& options,
                                                           const os::BreakpointSelfTest* self_test = nullptr);
  ~WatchpointSampler();
  WatchpointSampler(const WatchpointSampler&) = delete;
  WatchpointSampler& operator=(const WatchpointSampler&) = delete;

  void thread_started(int tid);
  void thread_exited(int tid);
  // The target's mappings, as the caller last read them (maps sorted by start).
  void set_mappings(std::vector<MapsEntry> maps, const std::vector<NumaMapsEntry>& numa_maps);
  // One round: drain rings, take hits, follow thread churn, refresh regions, plan and arm.
  // False once the target has exited (everything is closed then).
  bool poll();
  // poll() every `period_ns` for `duration_ns` (0: until the target exits).
  void run(std::uint64_t duration_ns, std::uint64_t period_ns = 2'000'000);
  // Drains what is left and closes every event.
  void stop();

  const std::vector<WatchpointSample>& samples() const { return samples_; }
  const std::vector<WatchpointColdProbe>& cold() const { return cold_; }
  // Resident bytes of each mapping the probes are drawn from (by start), as last read.
  std::map<std::uint64_t, std::uint64_t> resident_bytes() const;
  WatchpointCounters counters() const {
    WatchpointCounters c = counters_;
    c.scheduler = scheduler_.counters();
    return c;
  }

 private:
  struct Slot {
    int fd = -1;
    std::uint64_t addr = 0;
    int aim_node = -1;       // node index of the page when aimed
  };
  struct Thread {
    os::BreakpointRing ring;
    std::string pending;
    std::vector<Slot> slots;
  };
  struct PendingHit {
    WatchHit hit;
    std::uint64_t ip = 0;
    int aim_node = -1;
  };
  WatchpointSampler(int pid, MachineInfo machine, const WatchpointOptions& options, WatchpointScheduler scheduler);
  void attach_thread(int tid);
  void detach_thread(int tid);
  void follow_threads();
  void refresh_regions();
  void drain();
  void resolve(std::vector<PendingHit>& hits);
  void arm(std::vector<WatchAim> aims);
  void disarm_slot(const WatchAim& aim);   // its event stops watching (disabled or closed)
  void refuse(int error) { ++counters_.refused_by_errno[error]; }
  std::uint64_t mapping_of(std::uint64_t addr) const;
  Slot* slot_at(int tid, std::uint64_t addr);

  int pid_;
  MachineInfo machine_;
  WatchpointOptions options_;
  WatchpointScheduler scheduler_;
  WatchpointCounters counters_;
  std::map<int, Thread> threads_;
  std::vector<MapsEntry> maps_;
  std::uint64_t next_threads_ns_ = 0, next_regions_ns_ = 0;
  bool stopped_ = false;
  std::vector<WatchpointSample> samples_;
  std::vector<WatchpointColdProbe> cold_;
};

// Pure: the writable mappings (anonymous and file-backed) of `maps`, weighted by the resident
// bytes numa_maps gives each; [vvar], [vdso], [vsyscall] and mappings numa_maps lacks are left out.
std::vector<WatchRegion> watch_regions(const std::vector<MapsEntry>& maps, const std::vector<NumaMapsEntry>& numa_maps);

// Pure: hits as the Recording's access buckets (source "watchpoint", mem_class "hit").
std::vector<AccessBucket> watchpoint_access_buckets(const std::vector<WatchpointSample>& samples);

// Pure: the share of accesses that were remote, from hits whose both nodes are known; -1 when
// there are none. A group is a thread and a mapping: its rate per word is hits / exposure (the
// times to hit of its hits plus the windows of its cold probes, watchpoint_scheduler.hpp), its
// accesses that rate x the thread's probes x the mapping's resident bytes (the words those probes
// stand for there), split by the share of its hits that were remote. `prior_ns` is added to every
// group's exposure, as one more cold probe (the sampler's window bound): it keeps a group of one
// early hit from standing for a rate of 1 / its time to hit. With `resident_bytes` empty every hit
// counts one (the hit share).
double watchpoint_remote_share(const std::vector<WatchpointSample>& samples,
                               const std::vector<WatchpointColdProbe>& cold = {},
                               const std::map<std::uint64_t, std::uint64_t>& resident_bytes = {},
                               std::uint64_t prior_ns = 0);

// One sentence on why the self-test or an arm failed with `error`.
std::string explain_watchpoint_error(int error);

}  // namespace numa_agent::analyzer
