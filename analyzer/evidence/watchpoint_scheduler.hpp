// Where and when to aim hardware watchpoints (agent/os/breakpoint.hpp) at a program's memory: pure
// logic, no OS. The sampler (watchpoint_sampler.hpp) tells it which threads exist and which
// mappings are resident, asks it for a plan every few milliseconds, arms what the plan says and
// hands it back every hit.
//
//  * Targets: a mapping is drawn with probability proportional to its resident bytes, then a page
//    uniformly inside it, then one 8-byte word of that page.
//  * Slots: each thread has `slots_per_thread` probes (x86 has four debug registers); a free slot
//    of a thread is aimed at a new target, threads taken round-robin so that each gets as many
//    probes as the others.
//  * Windows: a probe that has not fired `window_ns` after it was aimed is cold (its thread did
//    not touch the word in that time: evidence too) and its slot is aimed again. A probe's
//    exposure is the time it was armed: its time to hit, or its whole window when cold. The
//    access rate of a thread to a word is hits / exposure (exact for Poisson accesses; for a word
//    re-touched every P seconds it is between 1/P, windows much shorter than P, and 2/P, windows
//    longer than P), so windows are long next to the times to hit the program shows: a word
//    touched at all is hit and its time to hit weighs it, and a probe, which costs one re-aim and
//    at most one trap whatever its window, yields what evidence it can. By default (`adaptive`)
//    a new probe's window is 4x the 90th percentile of the last 64 times to hit, within
//    [kMinWindowNs, window_ns]: short where the program re-touches its memory within
//    milliseconds (cold slots are re-aimed soon), long where it sweeps for a tenth of a second.
//  * Broadcast (`broadcast`, record's default): slot i of every thread watches the same word,
//    so the probe asks "who touches this word" instead of "does this thread touch it". Each
//    thread that touches it fires once; the first hit starts a grace period as long as its own
//    time to hit, and when that ends (or every thread has fired, or the window ends) the threads
//    that did not touch the word count the time they were armed as cold exposure. Without the
//    grace, the first toucher would win every probe of a word its threads touch in order (a
//    producer writes a message, its consumer reads it next): the consumer would never be seen.
//    Censoring at a time the others' accesses do not decide keeps hits / exposure per thread the
//    estimator for independent accesses; the grace catches those that follow the first within
//    its length. Without broadcast a word that one of T threads uses is cold on T-1 of its
//    probes: a program whose workers each sweep their own slice spent most of its probes waiting
//    out windows; with it a probe lasts at most twice its first time to hit. A thread that
//    starts while a probe is armed joins it at once. One token pays for one broadcast probe (at
//    most one trap per thread, plus late ones of threads that touched it before the disarm).
//  * Rate: new aims are paid for from a token bucket of `probes_per_second` (burst: 100 ms of it).
//    A probe costs its thread at most one trap, so the program's overhead is at most
//    rate x trap by construction: default_probe_rate() picks the rate for a budget. (The re-aim,
//    a modify or reopen of the event, is the sampler's own time; on a running thread it waits
//    for an IPI, which interrupts the program for about a microsecond on real hardware.)
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "agent/error.hpp"

namespace numa_agent::analyzer {

// A mapping the scheduler may aim into: [start, end), and its resident bytes (the weight).
struct WatchRegion {
  std::uint64_t start = 0, end = 0;
  std::uint64_t resident_bytes = 0;
};

// Arm probe `slot` of `tid` on `addr` (in `page`, of region `region`).
struct WatchAim {
  int tid = 0;
  unsigned slot = 0;
  std::uint64_t addr = 0, page = 0;
  std::size_t region = 0;
};
struct WatchHit {
  int tid = 0, cpu = -1;
  std::uint64_t addr = 0, page = 0;
  std::uint64_t time_ns = 0;          // when it fired (CLOCK_MONOTONIC)
  std::uint64_t time_to_hit_ns = 0;   // since it was aimed
};
struct WatchCold {
  int tid = 0;
  std::uint64_t addr = 0, page = 0;
  std::uint64_t window_ns = 0;
};
struct WatchSlotRef {
  int tid = 0;
  unsigned slot = 0;
};

inline constexpr std::uint64_t kMinWindowNs = 20'000'000;

struct WatchSchedulerConfig {
  unsigned slots_per_thread = 4;
  double probes_per_second = 0;                  // > 0
  std::uint64_t window_ns = 1'000'000'000;       // > 0: the window, or its upper bound when adaptive
  bool adaptive = true;
  bool broadcast = false;                        // slot i of every thread watches one word
  std::uint64_t page_bytes = 4096;               // a power of two
  std::uint64_t seed = 1;
};

// Probes per second such that rate x trap_ns = budget (fraction of one CPU).
double default_probe_rate(double trap_ns, double budget = 0.02);

struct WatchSchedulerCounters {
  std::uint64_t aims = 0, hits = 0, cold = 0, late = 0, refused = 0, not_resident = 0, dropped = 0;
  std::uint64_t rate_limited = 0;   // plans that left a free slot for want of tokens
  std::uint64_t threads_added = 0, threads_removed = 0;
};

class WatchpointScheduler {
 public:
  // Fails (EINVAL, with the reason) on a config it cannot honour.
  static Result<WatchpointScheduler> create(const WatchSchedulerConfig& config);

  // Replaces the target mappings (probes already armed stay until they hit or go cold).
  void set_regions(std::vector<WatchRegion> regions);
  const std::vector<WatchRegion>& regions() const { return regions_; }
  void add_thread(int tid);
  // Forgets the thread; its armed probes are dropped (counted). The caller closes their events.
  void remove_thread(int tid);
  bool has_thread(int tid) const { return threads_.count(tid) > 0; }

  struct Plan {
    std::vector<WatchCold> cold;          // probes whose window ended without a hit
    std::vector<WatchAim> aims;           // arm these (a slot may be one that just went cold)
    std::vector<WatchSlotRef> release;    // cold slots not aimed again: disarm them
  };
  // At `now_ns`: windows that ended become cold; free slots get aims while tokens last.
  Plan plan(std::uint64_t now_ns);
  // The aim's breakpoint is armed since `armed_ns` (during the re-aim). Its time to hit and its
  // exposure count from then, not from the plan: a re-aim of a running thread waits for an IPI
  // (milliseconds per thread in a TCG guest, one thread after another), and counting that wait as
  // exposure weighs down the words touched soonest.
  void armed(const WatchAim& aim, std::uint64_t armed_ns);
  // The aim could not be armed (errno); its slot is free again.
  void refused(const WatchAim& aim);
  // The aim's page is not resident: its slot is free again.
  void not_resident(const WatchAim& aim);
  // Another word in the aim's region, for the same slot (after a not-resident page). Broadcast:
  // for every thread aimed at the same word in that slot (the caller re-aims them all).
  WatchAim retarget(const WatchAim& aim);
  // A sample of `tid` at watched `addr`: the hit, or nullopt when no live probe of that thread
  // watches it (a late sample of a probe that already went cold or was re-aimed).
  std::optional<WatchHit> hit(int tid, std::uint64_t addr, int cpu, std::uint64_t time_ns);

  const WatchSchedulerCounters& counters() const { return counters_; }
  std::size_t armed_probes() const;
  // The window a probe aimed now gets.
  std::uint64_t window_ns() const;

 private:
  explicit WatchpointScheduler(const WatchSchedulerConfig& config);
  struct Slot {
    bool armed = false;
    std::uint64_t addr = 0, page = 0, aimed_ns = 0, window_ns = 0;
    std::uint64_t probe = 0;     // broadcast: the shared probe this slot last joined
    std::size_t region = 0;      // broadcast, shared slots: where the word was drawn
    std::uint64_t grace_end_ns = 0;   // broadcast, shared slots: set by the first hit
  };
  void plan_broadcast(std::uint64_t now_ns, Plan& plan);
  // Broadcast: disarms slot `slot` of every thread still watching `addr` there, each one cold for
  // the time it was armed until `end_ns`; queues the disarms for the next plan.
  void end_shared(unsigned slot, std::uint64_t addr, std::uint64_t end_ns);
  // Broadcast: whether a thread is still armed on shared probe `slot`.
  bool shared_pending(unsigned slot) const;
  std::uint64_t draw_word_in(std::size_t region);
  std::optional<std::size_t> draw_region();
  Slot* slot_of(int tid, unsigned slot);

  WatchSchedulerConfig config_;
  std::vector<WatchRegion> regions_;
  std::vector<double> cumulative_;   // running sum of resident_bytes
  std::map<int, std::vector<Slot>> threads_;
  std::uint64_t next_probe_ = 1;
  std::vector<Slot> shared_;         // broadcast: the word each slot index watches on every thread
  std::vector<WatchCold> ended_cold_;          // broadcast: from hits, for the next plan
  std::vector<WatchSlotRef> ended_release_;
  int cursor_ = 0;                   // round-robin: the tid served first next time
  double tokens_ = 0;
  std::uint64_t last_ns_ = 0;
  bool started_ = false;
  std::vector<std::uint64_t> recent_;   // the last times to hit (a ring)
  std::size_t recent_next_ = 0;
  std::mt19937_64 rng_;
  WatchSchedulerCounters counters_;
};

}  // namespace numa_agent::analyzer
