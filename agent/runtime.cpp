// The runtime's life in a running process: thread placement and records, fork, warnings. Start-up
// is in startup.cpp, the profile in profile_writer.cpp.
#include "runtime.hpp"

#include <cstring>

#include "os/os.hpp"
#include "pool/pool_runtime.hpp"
#include "printable.hpp"

namespace numa_agent {

AgentRuntime::~AgentRuntime() = default;

void AgentRuntime::log_line(LogLevel level, std::string_view text) const { write_log_line(level, options_.log, text); }

void AgentRuntime::warn(const std::string& text) {
  const std::string line = printable(text, 900);   // one line whatever a path or value holds
  warning_lines_.push_back(line);
  log_line(LogLevel::Warn, line);
}

void AgentRuntime::info(const std::string& line) { log_line(LogLevel::Info, line); }

int AgentRuntime::node_of_mask(const CpuSet& cpus) const {
  // Known only when the whole mask sits on one node; the machine's nodes are known once the
  // runtime has started. Set operations, not a walk over the mask's CPUs (a walk scans all
  // 1024 bits: 12k instructions for each thread's record).
  if (cpus.empty()) return -1;
  const auto& nodes = facts_.machine.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if ((cpus & nodes[i].cpus) == cpus) return static_cast<int>(i);
  return -1;
}

NUMA_AGENT_EVERY_PROCESS void AgentRuntime::start_main_thread() {
  if (started())
    record_main_thread();
  else
    main_record_wanted_ = true;   // start_now() records it
}

void AgentRuntime::record_main_thread() {
  if (!placement_ready_.load(std::memory_order_acquire)) {
    // Deferred placement implies NUMA_AGENT_PIN_MAIN is not `start`: main waits for its first
    // thread (place_main_now), exactly as when the policy would pin it under `auto`.
    // With `no`, or a policy that pins nothing, place_main_now() then only records the reason.
    ThreadPlan plan;
    plan.decision.reason = PlacementReason::SingleThreaded;
    main_record_ = begin_thread(plan);
    main_reason_deferred_ = true;
    return;
  }
  ThreadPlan plan{0, policy_.decide(0)};
  if (options_.pin_main == MainPlacement::Auto && plan.decision.pin) {
    plan.decision = PlacementDecision{};
    plan.decision.reason = PlacementReason::SingleThreaded;   // until it creates a thread
  } else {
    main_placed_ = true;
  }
  main_record_ = begin_thread(plan);
}

void AgentRuntime::place_main_now() {
  PlacementDecision d = policy_.decide(0);
  if (!d.pin) {
    // When placement was deferred the record says now why main stays where it is, as it would
    // have said from the start.
    if (main_reason_deferred_)
      registry_.update_placement(main_record_, false, facts_.allowed_cpus, node_of_mask(facts_.allowed_cpus), d.reason);
    return;
  }
  int rc = os::set_thread_affinity(facts_.pid, d.cpus);
  if (rc != 0) {
    warn("main thread: cannot pin to CPUs " + d.cpus.to_list_string() + ": " + std::strerror(-rc));
    registry_.update_placement(main_record_, false, facts_.allowed_cpus, -1, PlacementReason::PinFailed);
    return;
  }
  registry_.update_placement(main_record_, true, d.cpus, d.node, PlacementReason::Policy);
  pinned_any_.store(true, std::memory_order_relaxed);
  // Main may have allocated before it was placed: its heap follows it to the new node.
  if (os::current_tid() == facts_.pid) pool::thread_placed();
  if (should_log(LogLevel::Info))
    info("thread " + std::to_string(facts_.pid) + " ordinal 0: pinned to cpus " + d.cpus.to_list_string() +
         " (node " + std::to_string(d.node) + ") as it creates its first thread");
}

ThreadPlan AgentRuntime::plan_thread(bool caller_set_affinity) {
  settle_fork_child();
  ensure_placement();   // the first thread pays for the topology (bench: thread_create first_ns)
  if (!main_placed_.load(std::memory_order_relaxed) && !main_placed_.exchange(true)) place_main_now();
  ThreadPlan plan;
  plan.ordinal = next_ordinal_.fetch_add(1, std::memory_order_relaxed);
  if (caller_set_affinity) {
    plan.decision.reason = PlacementReason::CallerAffinity;
  } else {
    plan.decision = policy_.decide(plan.ordinal);
  }
  return plan;
}

std::size_t AgentRuntime::begin_thread(const ThreadPlan& plan) {
  ThreadRecord r;
  r.tid = os::current_tid();
  r.ordinal = plan.ordinal;
  r.start_ns = plan.start_ns ? plan.start_ns : os::realtime_ns();
  r.reason = plan.decision.reason;
  if (plan.decision.pin) {
    int rc = os::set_current_thread_affinity(plan.decision.cpus);
    if (rc == 0) {
      r.pinned = true;
      pinned_any_.store(true, std::memory_order_relaxed);
      r.node = plan.decision.node;
      pool::thread_placed();
    } else {
      r.reason = PlacementReason::PinFailed;
      warn("thread " + std::to_string(r.tid) + ": cannot pin to CPUs " +
           plan.decision.cpus.to_list_string() + ": " + std::strerror(-rc) + "; left where it is");
    }
  } else if (plan.decision.reason == PlacementReason::SkipMask && !facts_.allowed_cpus.empty()) {
    // A new thread inherits its creator's mask, which the agent narrowed; a skipped thread gets
    // the process's original CPUs, as it would have without the agent.
    os::set_current_thread_affinity(facts_.allowed_cpus);
    pool::thread_placed();
  }
  if (auto cpus = os::thread_affinity(0)) r.cpus = *cpus;
  if (r.node < 0) r.node = node_of_mask(r.cpus);
  if (should_log(LogLevel::Info))
    info("thread " + std::to_string(r.tid) + " ordinal " + std::to_string(r.ordinal) + ": " +
         (r.pinned ? "pinned to cpus " + r.cpus.to_list_string() + " (node " + std::to_string(r.node) + ")"
                   : "not pinned (" + std::string(to_string(r.reason)) + ")"));
  return registry_.add(std::move(r));
}

void AgentRuntime::end_thread(std::size_t record) {
  if (record == ThreadRegistry::kNoRecord) return;
  registry_.finish(record, os::realtime_ns(), os::current_cpu(), os::current_thread_name());
}

NUMA_AGENT_EVERY_PROCESS void AgentRuntime::before_fork() { registry_.lock_for_fork(); }
NUMA_AGENT_EVERY_PROCESS void AgentRuntime::after_fork_parent() { registry_.unlock_after_fork(); }
NUMA_AGENT_EVERY_PROCESS void AgentRuntime::after_fork_child() {
  registry_.unlock_after_fork();
  if (!started()) return;   // nothing placed or recorded yet: the child starts when it needs to
  // The child is a new process: its one thread is its main thread, with the original CPUs back
  // when the agent had narrowed them. The records wait for settle_fork_child().
  if (pinned_any_.load(std::memory_order_relaxed) && !facts_.allowed_cpus.empty()) {
    os::set_current_thread_affinity(facts_.allowed_cpus);
    pinned_any_.store(false, std::memory_order_relaxed);
  }
  facts_.pid = os::current_pid();
  start_ns_ = fork_ns_ = os::realtime_ns();
  fork_child_unsettled_.store(true, std::memory_order_relaxed);
}

void AgentRuntime::settle_fork_child() {
  // Single-threaded when set: the forked child has one thread until it creates one here.
  if (!fork_child_unsettled_.load(std::memory_order_relaxed)) return;
  fork_child_unsettled_.store(false, std::memory_order_relaxed);
  registry_.clear();
  next_ordinal_ = 1;
  main_placed_ = false;
  main_reason_deferred_ = false;
  ThreadPlan plan;
  plan.decision.reason = PlacementReason::SingleThreaded;
  plan.start_ns = fork_ns_;
  main_record_ = begin_thread(plan);
}


}  // namespace numa_agent
