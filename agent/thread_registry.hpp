// ThreadRegistry: one record per thread the agent placed, for the profile. Touched only on thread
// start and end (never by the allocator), so a mutex is fine; bounded so thread churn cannot grow it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cpu_set.hpp"
#include "placement_policy.hpp"

namespace numa_agent {

struct ThreadRecord {
  int tid = 0;
  std::uint64_t ordinal = 0;
  bool pinned = false;
  CpuSet cpus;                 // affinity after placement
  int node = -1;               // node index of the placement, -1 unknown
  PlacementReason reason = PlacementReason::PolicyNone;
  std::uint64_t start_ns = 0;  // CLOCK_REALTIME
  std::optional<std::uint64_t> end_ns;
  int last_cpu = -1;
  std::string name;
};

class ThreadRegistry {
 public:
  static constexpr std::size_t kNoRecord = static_cast<std::size_t>(-1);
  explicit ThreadRegistry(std::size_t limit = 4096) : limit_(limit) {}

  std::size_t add(ThreadRecord r);   // kNoRecord when over the limit (counted as dropped)
  void finish(std::size_t index, std::uint64_t end_ns, int last_cpu, std::string name);
  // The main thread is placed after its record was made (NUMA_AGENT_PIN_MAIN=auto).
  void update_placement(std::size_t index, bool pinned, const CpuSet& cpus, int node, PlacementReason reason);
  std::vector<ThreadRecord> snapshot() const;
  std::size_t dropped() const;

  // fork support: hold the lock across fork so the child never inherits it locked.
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  // In a forked child: the parent's threads are not the child's.
  void clear() {
    std::lock_guard lock(mutex_);
    records_.clear();
    dropped_ = 0;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<ThreadRecord> records_;
  std::size_t limit_;
  std::size_t dropped_ = 0;
};

}  // namespace numa_agent
