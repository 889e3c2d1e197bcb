// AgentRuntime: the agent's state for one process: options, topology, placement policy, thread
// records, logger. The LD_PRELOAD shim (interpose/) owns the single instance and forwards events to
// it; tests build their own instances from a ProcessFacts of a fake machine.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "options.hpp"
#include "placement_policy.hpp"
#include "thread_registry.hpp"
#include "log_line.hpp"
#include "topology.hpp"

// Code that every process of a tree under LD_PRELOAD runs (the constructor, the exit, the fork
// handlers), kept in one section: each page of code a process touches costs it a page fault, and
// a forked child refaults every page it runs (issue 16).
#define NUMA_AGENT_EVERY_PROCESS [[gnu::section(".text.hot.numa_agent_every_process")]]

namespace numa_agent {

// Everything the runtime needs to know about the process and machine. probe() reads only the
// environment and the allowed CPUs; the NUMA nodes (for the pools) wait in read_nodes until the
// runtime starts (the first allocation the pools would serve, the first pthread_create), the rest
// of the machine (cores, packages, distances) in complete_machine until placement needs it (the
// first pthread_create, NUMA_AGENT_PIN_MAIN=start, LOG=info, the profile). A process that never
// allocates reads no sysfs file; one that never creates a thread reads only the nodes.
struct ProcessFacts {
  std::map<std::string, std::string, std::less<>> agent_variables;  // NUMA_AGENT_*
  bool secure = false;          // setuid/setgid: environment ignored
  bool openmp_affinity_env = false;
  std::string openmp_variable;  // which one, for the log
  CpuSet allowed_cpus;
  Topology machine;             // the whole machine (only its nodes while complete_machine is set)
  std::string topology_error;   // non-empty: topology could not be loaded, nothing is pinned
  // Reads the NUMA nodes, once, when the runtime starts; empty: `machine` holds them already.
  std::function<Result<Topology>()> read_nodes;
  // Loads the whole machine, once, when placement first needs it; empty: `machine` is complete.
  std::function<Result<Topology>()> complete_machine;
  std::vector<std::string> command;   // empty from probe(): read with the profile
  int pid = 0;

  static ProcessFacts probe();  // from the OS layer
};

// What a created thread will get, decided in the parent inside pthread_create.
struct ThreadPlan {
  std::uint64_t ordinal = 0;
  PlacementDecision decision;
  std::uint64_t start_ns = 0;   // the record's start; 0: when begin_thread runs
};

class AgentRuntime {
 public:
  explicit AgentRuntime(ProcessFacts facts);
  ~AgentRuntime();
  AgentRuntime(const AgentRuntime&) = delete;
  AgentRuntime& operator=(const AgentRuntime&) = delete;

  const Options& options() const { return options_; }
  // Both are built on first use (logically const: what they return does not depend on when).
  const Topology& allowed_topology() const { placement(); return allowed_; }
  const PlacementPolicy& policy() const { placement(); return policy_; }
  const std::vector<OptionWarning>& warnings() const { return warnings_; }

  // The whole topology and the placement policy, built once on first use (see ProcessFacts).
  // Thread-safe; cheap once done.
  void ensure_placement();

  // The start the constructor may leave for later: the NUMA nodes, the pools, the main thread's
  // record (placed on slot 0 when NUMA_AGENT_PIN_MAIN=start). ensure_started() returns once it is
  // done (by this thread or another); try_start() starts it unless it has begun, and never waits
  // (for the allocator, which must not block on a start that allocates). Both thread-safe.
  void ensure_started();
  bool try_start();
  bool started() const { return start_state_.load(std::memory_order_acquire) == kStarted; }

  // The shim, after construction: the main thread gets its record (placed on slot 0 when
  // NUMA_AGENT_PIN_MAIN=start) now if the runtime has started, else as it starts.
  void start_main_thread();
  // In the parent: the ordinal and decision for the thread being created.
  ThreadPlan plan_thread(bool caller_set_affinity);
  // In the new thread, before user code: apply the plan, record it. Returns a record index.
  std::size_t begin_thread(const ThreadPlan& plan);
  // In the thread as it ends (return, pthread_exit or cancellation).
  void end_thread(std::size_t record);

  // fork: keep the registry consistent; in the child, give the forking thread back the process's
  // original CPUs so that programs it execs do not inherit a one-CPU mask.
  void before_fork();
  void after_fork_parent();
  void after_fork_child();

  nlohmann::json profile() const;
  // At exit, once (later calls and an unset NUMA_AGENT_PROFILE succeed, writing nothing). A
  // failure is also said as one warning line, so callers need not print it.
  Result<void> write_profile();
  // NUMA_AGENT_PROFILE with %p expanded.
  std::string profile_path() const;

 private:
  void log_info_summary();
  void build_placement();
  void start_now();
  void record_main_thread();
  // ensure_placement() for the const accessors (and the profile); no AgentRuntime is ever
  // created const. A forked child's records are reset first.
  void placement() const {
    auto* self = const_cast<AgentRuntime*>(this);
    self->settle_fork_child();
    self->ensure_placement();
  }
  // A forked child resets its thread records when it first needs them, not in the fork handler:
  // a child that execs at once (a shell's) runs none of that code (each page of it would fault).
  void settle_fork_child();
  int node_of_mask(const CpuSet& cpus) const;   // the one node holding all of `cpus`, else -1
  bool should_log(LogLevel level) const { return log_enabled(level, options_.log); }
  // "numa-agent[PID]: warning: TEXT", one write(2) straight to stderr (no stdio, no formatter).
  void log_line(LogLevel level, std::string_view text) const;
  void warn(const std::string& line);
  void info(const std::string& line);

  ProcessFacts facts_;
  Options options_;
  std::vector<OptionWarning> warnings_;
  std::vector<std::string> warning_lines_;
  Topology allowed_;
  PlacementPolicy policy_;
  ThreadRegistry registry_;
  std::atomic<std::uint64_t> next_ordinal_{1};
  std::uint64_t start_ns_ = 0;
  std::size_t main_record_ = ThreadRegistry::kNoRecord;
  std::atomic<bool> main_placed_{false};
  bool main_reason_deferred_ = false;   // main's record waits for the policy's reason
  bool main_record_wanted_ = false;     // start_main_thread() came before the start
  void place_main_now();
  std::atomic<bool> profile_written_{false};
  std::atomic<bool> pinned_any_{false};          // the agent has pinned a thread of this process
  std::atomic<bool> fork_child_unsettled_{false};
  std::uint64_t fork_ns_ = 0;
  static constexpr int kNotStarted = 0, kStarting = 1, kStarted = 2;
  std::atomic<int> start_state_{kNotStarted};
  std::atomic<int> starting_tid_{0};
  std::atomic<bool> placement_wanted_{false};   // the start is for placement: read the whole machine
  std::once_flag placement_once_;
  std::atomic<bool> placement_ready_{false};
};

}  // namespace numa_agent
