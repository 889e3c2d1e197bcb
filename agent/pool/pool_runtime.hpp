// The pools as the agent runtime sees them: started once, told about fork, asked for their profile
// section at exit.
// Everything else about the pools (heaps, spans, size classes) is behind this header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "../error.hpp"
#include "../options.hpp"
#include "../topology.hpp"

namespace numa_agent::pool {

// The pools' settings. Their defaults are the option table's: pool_config(default_options()).
struct PoolConfig {
  bool enabled{};                      // NUMA_AGENT_POOLS
  std::size_t small_max{};             // NUMA_AGENT_SMALL_MAX: largest size served by the pools
  std::size_t arena_bytes_per_node{};  // NUMA_AGENT_ARENA_SIZE (virtual)
  std::uint64_t sample_bytes{};        // NUMA_AGENT_SAMPLE: 0 = no allocation-site sampling
};
PoolConfig pool_config(const Options& options);

// Called once by the runtime after options and topology are known, before the first thread is
// created (also when config.enabled is false). Until then every allocation goes to the real
// allocator. Succeeds when the pools started or are disabled by the configuration; else the
// error's `what` is one line for the user: why the pools are off and that every allocation goes
// to the real allocator.
Result<void> start(const PoolConfig& config, const Topology& topology);

// The calling thread's CPU affinity was just changed by the agent (a new thread pinned in the
// pthread_create trampoline, the main thread pinned as it creates its first thread): if it now
// runs on another node than its heap's, it takes a heap of that node at once. Without this call
// the move happens at the thread's next pool refill. Cheap, allocates nothing, never fails.
void thread_placed();

// fork(), called by the process's one set of fork handlers (interpose/agent_entry.cpp) after the
// runtime's prepare and before its parent/child handlers. prepare takes every pool lock; parent
// releases them; child releases them and abandons the heaps of the threads the child lacks.
void fork_prepare();
void fork_parent();
void fork_child();

// The "pools" object of the profile (agent/PROFILE_SCHEMA.md). Called at exit.
nlohmann::json profile_section();

}  // namespace numa_agent::pool
