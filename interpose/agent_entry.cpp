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
void prepare_fork() {
  if (auto* rt = agent_runtime()) rt->before_fork();
  pool::fork_prepare();
}
void parent_after_fork() {
  pool::fork_parent();
  if (auto* rt = agent_runtime()) rt->after_fork_parent();
}
void child_after_fork() {
  pool::fork_child();
  if (auto* rt = agent_runtime()) rt->after_fork_child();
}

__attribute__((constructor(101))) void agent_start() {
  // Before the runtime starts the pools: a fork from here on finds the handlers in place.
  os::register_fork_handlers(prepare_fork, parent_after_fork, child_after_fork);
  try {
    auto* rt = new (g_storage) AgentRuntime(ProcessFacts::probe());
    g_runtime.store(rt, std::memory_order_release);
    rt->start_main_thread();
  } catch (const std::exception& e) {
    // Never take the host program down: say why and run without the agent.
    os::write_stderr("numa-agent: error: start-up failed (");
    os::write_stderr(e.what());
    os::write_stderr("); the program runs without the agent\n");
  }
}

__attribute__((destructor)) void agent_stop() {
  if (auto* rt = agent_runtime()) {
    try {
      (void)rt->write_profile();   // a failure was said as a warning line
    } catch (...) {
      os::write_stderr("numa-agent: error: profile not written\n");
    }
  }
}

}  // namespace

AgentRuntime* agent_runtime() { return g_runtime.load(std::memory_order_acquire); }

}  // namespace numa_agent::shim
