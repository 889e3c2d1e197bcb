// AgentRuntime: the agent's state for one process: options, topology, placement policy, thread
// records, logger. The LD_PRELOAD shim (interpose/) owns the single instance and forwards events to
// it; tests build their own instances from a ProcessFacts of a fake machine.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "options.hpp"
#include "placement_policy.hpp"
#include "thread_registry.hpp"
#include "topology.hpp"

namespace spdlog { class logger; }

namespace numa_agent {

// Everything the runtime needs to know about the process and machine, gathered once at start-up.
struct ProcessFacts {
  std::map<std::string, std::string, std::less<>> agent_variables;  // NUMA_AGENT_*
  bool secure = false;          // setuid/setgid: environment ignored
  bool openmp_affinity_env = false;
  std::string openmp_variable;  // which one, for the log
  CpuSet allowed_cpus;
  Topology machine;             // the whole machine
  std::string topology_error;   // non-empty: topology could not be loaded, nothing is pinned
  std::vector<std::string> command;
  int pid = 0;

  static ProcessFacts probe();  // from the OS layer
};

// What a created thread will get, decided in the parent inside pthread_create.
struct ThreadPlan {
  std::uint64_t ordinal = 0;
  PlacementDecision decision;
};

class AgentRuntime {
 public:
  explicit AgentRuntime(ProcessFacts facts);
  ~AgentRuntime();
  AgentRuntime(const AgentRuntime&) = delete;
  AgentRuntime& operator=(const AgentRuntime&) = delete;

  const Options& options() const { return options_; }
  const Topology& allowed_topology() const { return allowed_; }
  const PlacementPolicy& policy() const { return policy_; }
  const std::vector<OptionWarning>& warnings() const { return warnings_; }

  // Main thread, at start-up: recorded, and placed on slot 0 when NUMA_AGENT_PIN_MAIN=start.
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
  // At exit, once; says one line on failure. Returns the path written or "".
  std::string write_profile();
  // NUMA_AGENT_PROFILE with %p expanded.
  std::string profile_path() const;

 private:
  void log_info_summary();
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
  void place_main_now();
  std::atomic<bool> profile_written_{false};
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace numa_agent
