// The process's pools as the runtime sees them: start (once, from the library constructor),
// thread-exit and fork hooks, and the profile section (built by pool_profile.cpp).
#include "pool_runtime.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "../os/os.hpp"
#include "pool_global.hpp"
#include "pool_profile.hpp"

namespace numa_agent::pool {

constinit PoolAllocator g_pool;
__thread Heap* tl_heap __attribute__((tls_model("initial-exec"))) = &g_detached_heap;

namespace {

// Why the pools are off, for the profile: a fixed buffer (no destructor: the profile may be
// written late in exit).
constinit char g_off_reason[320] = "pools not started";
constinit bool g_started = false;
constinit bool g_start_failed = false;   // not just disabled: the profile counts the fall-throughs
constinit os::ThreadExitKey g_exit_key = 0;

Heap** current_slot() { return &tl_heap; }

// Runs at thread exit (pthread key destructor) for threads that took a heap.
void thread_ended(void*) { g_pool.thread_exit(&tl_heap); }

void heap_attached(Heap* h) { os::set_thread_exit_value(g_exit_key, h); }

void set_off_reason(const std::string& text) {
  const std::size_t n = std::min(text.size(), sizeof g_off_reason - 1);
  std::memcpy(g_off_reason, text.data(), n);
  g_off_reason[n] = '\0';
}

std::string gib(std::size_t bytes) {
  const std::size_t g = bytes >> 30;
  return g > 0 ? std::to_string(g) + " GiB" : std::to_string(bytes >> 20) + " MiB";
}

// "pools off: WHAT (DETAIL): every allocation goes to the real allocator"
std::string off_line(const char* what, int error) {
  std::string line = std::string("pools off: ") + what;
  const char* name = error > 0 ? os::errno_name(error) : nullptr;
  if (std::strcmp(what, "cannot reserve the pools' address space") == 0)
    line += " of " + gib(g_pool.start_bytes()) + " (" + (name ? name : "error") +
            "; RLIMIT_AS / ulimit -v too small? NUMA_AGENT_ARENA_SIZE sets the size per node)";
  else if (name)
    line += std::string(" (") + name + ")";
  return line + ": every allocation goes to the real allocator";
}

}  // namespace

PoolConfig pool_config(const Options& options) {
  return {.enabled = options.pools,
          .small_max = options.small_max,
          .arena_bytes_per_node = options.arena_size,
          .sample_bytes = options.sample};
}

Result<void> start(const PoolConfig& config, const Topology& topology) {
  if (g_started) return {};
  if (!config.enabled) {
    set_off_reason("disabled by NUMA_AGENT_POOLS=0");
    return {};
  }
  // Created first, while few keys exist: keys below 32 live inside the thread descriptor, so
  // pthread_setspecific from the allocator's slow path allocates nothing.
  if (auto key = os::create_thread_exit_key(thread_ended)) {
    g_exit_key = *key;
  } else {
    std::string line = off_line("no pthread key left for the thread-exit handler", 0);
    set_off_reason(line);
    return fail(key.error().code, std::move(line));
  }
  if (auto started = g_pool.start(config, topology, production_pool_os(), ThreadHooks{current_slot, heap_attached});
      !started) {
    std::string line = off_line(started.error().what.c_str(), started.error().code);
    set_off_reason(line);
    g_start_failed = true;
    return fail(started.error().code, std::move(line));
  }
  g_started = true;
  g_off_reason[0] = '\0';
  return {};
}

void thread_placed() {
  if (g_started) g_pool.thread_placed(&tl_heap);
}

void fork_prepare() { g_pool.fork_prepare(); }
void fork_parent() { g_pool.fork_parent(); }
void fork_child() { g_pool.fork_child(); }

nlohmann::json profile_section() {
  if (!g_started) {
    nlohmann::json off{{"enabled", false}, {"reason", g_off_reason[0] ? g_off_reason : "off"}};
    if (g_start_failed) {
      // Everything the pools were asked for went to the real allocator.
      HeapCounters total;
      total.fallthrough[static_cast<unsigned>(FallReason::PoolsOff)] = g_pool.pools_off_fallthroughs();
      off["totals"] = counters_json(total);
    }
    return off;
  }
  return started_pools_json(g_pool);
}

}  // namespace numa_agent::pool
