// Library constructor and destructor: build the runtime, place the main thread, write the profile.
#include "agent_entry.hpp"

#include <atomic>
#include <exception>
#include <new>

#include "agent/os/os.hpp"
#include "agent/pool/pool_runtime.hpp"

namespace numa_agent::shim {
namespace {

// Static storage, constructed in place by the constructor and deliberately never destroyed:
// threads and atexit handlers may still create threads or allocate after our destructor ran.
alignas(AgentRuntime) unsigned char g_storage[sizeof(AgentRuntime)];
std::atomic<AgentRuntime*> g_runtime{nullptr};

// The process's only fork handlers. prepare: the runtime, then the pools (the runtime's registry
// lock is held while it allocates, so pool locks are taken after it, never before). parent and
// child: the reverse, so the pools work again before the runtime's child handler allocates.
// Each part does nothing until it has started.
NUMA_AGENT_EVERY_PROCESS void prepare_fork() {
  if (auto* rt = agent_runtime()) rt->before_fork();
  pool::fork_prepare();
}
NUMA_AGENT_EVERY_PROCESS void parent_after_fork() {
  pool::fork_parent();
  if (auto* rt = agent_runtime()) rt->after_fork_parent();
}
NUMA_AGENT_EVERY_PROCESS void child_after_fork() {
  pool::fork_child();
  if (auto* rt = agent_runtime()) rt->after_fork_child();
}

NUMA_AGENT_EVERY_PROCESS __attribute__((constructor(101))) void agent_start() {
  // Before the runtime starts the pools: a fork from here on finds the handlers in place.
  os::register_fork_handlers(prepare_fork, parent_after_fork, child_after_fork);
  try {
    auto* rt = new (g_storage) AgentRuntime(ProcessFacts::probe());
    g_runtime.store(rt, std::memory_order_release);
    rt->start_main_thread();
    // Not started yet: the pools start with the first allocation they would serve (the runtime
    // itself starts at the first pthread_create, the profile or whatever needs the machine).
    if (!rt->started() && rt->options().pools) g_start_below_bytes.store(rt->options().small_max + 1, std::memory_order_release);
  } catch (const std::exception& e) {
    // Never take the host program down: say why and run without the agent.
    os::write_stderr("numa-agent: error: start-up failed (");
    os::write_stderr(e.what());
    os::write_stderr("); the program runs without the agent\n");
  }
}

NUMA_AGENT_EVERY_PROCESS __attribute__((destructor)) void agent_stop() {
  // Without a profile the exit touches none of the profile writer's code (one page fault less).
  if (auto* rt = agent_runtime(); rt && !rt->options().profile.empty()) {
    try {
      (void)rt->write_profile();   // a failure was said as a warning line
    } catch (...) {
      os::write_stderr("numa-agent: error: profile not written\n");
    }
  }
}

}  // namespace

constinit std::atomic<std::size_t> g_start_below_bytes{0};

AgentRuntime* agent_runtime() { return g_runtime.load(std::memory_order_acquire); }

// Inside malloc: the start's own allocations come back here and find nothing pending, so they
// go to the real allocator; a thread arriving while another starts does not wait (try_start).
// The start opens sysfs files with open/read (no stdio, no locale), takes only the runtime's
// and the pools' locks, and reaches no ld.so lock (the allocation path's calls are bound at load
// time, interpose/CMakeLists.txt), so it is safe wherever malloc is.
void start_from_allocation() noexcept {
  if (g_start_below_bytes.exchange(0, std::memory_order_acq_rel) == 0) return;
  if (auto* rt = agent_runtime()) {
    try {
      rt->try_start();
    } catch (...) {
      os::write_stderr("numa-agent: error: start-up failed; the pools are off\n");
    }
  }
}

}  // namespace numa_agent::shim
