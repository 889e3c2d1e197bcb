// The pools as the agent runtime sees them: started once, asked for their profile section at exit.
// Everything else about the pools (heaps, spans, size classes) is behind this header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "../topology.hpp"

namespace numa_agent::pool {

struct PoolConfig {
  bool enabled = true;                 // NUMA_AGENT_POOLS
  std::size_t small_max = 32 * 1024;   // NUMA_AGENT_SMALL_MAX: largest size served by the pools
  std::size_t arena_bytes_per_node = std::size_t{16} << 30;  // NUMA_AGENT_ARENA_SIZE (virtual)
  std::uint64_t sample_bytes = 0;      // NUMA_AGENT_SAMPLE: 0 = no allocation-site sampling
};

// Called once by the runtime after options and topology are known, before the first thread is
// created (also when config.enabled is false). Until then every allocation goes to the real
// allocator. Returns "" when the pools started or are disabled by the configuration, else one
// line for the user: why the pools are off and that every allocation goes to the real allocator.
std::string start(const PoolConfig& config, const Topology& topology);

// The calling thread's CPU affinity was just changed by the agent (a new thread pinned in the
// pthread_create trampoline, the main thread pinned as it creates its first thread): if it now
// runs on another node than its heap's, it takes a heap of that node at once. Without this call
// the move happens at the thread's next pool refill. Cheap, allocates nothing, never fails.
void thread_placed();

// The "pools" object of the profile (agent/PROFILE_SCHEMA.md). Called at exit.
nlohmann::json profile_section();

}  // namespace numa_agent::pool
