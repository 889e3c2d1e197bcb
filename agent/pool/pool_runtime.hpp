// The pools as the agent runtime sees them: started once, asked for their profile section at exit.
// Everything else about the pools (heaps, spans, size classes) is behind this header.
#pragma once
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "../topology.hpp"

namespace numa_agent::pool {

struct PoolConfig {
  bool enabled = true;                 // NUMA_AGENT_POOLS
  std::size_t small_max = 1024;        // NUMA_AGENT_SMALL_MAX: largest size served by the pools
  std::size_t arena_bytes_per_node = std::size_t{16} << 30;  // NUMA_AGENT_ARENA_SIZE (virtual)
  std::uint64_t sample_bytes = 0;      // NUMA_AGENT_SAMPLE: 0 = no allocation-site sampling
};

// Called once by the runtime after options and topology are known, before the first thread is
// created. Until then every allocation goes to the real allocator.
void start(const PoolConfig& config, const Topology& topology);

// The "pools" object of the profile (agent/PROFILE_SCHEMA.md). Called at exit.
nlohmann::json profile_section();

}  // namespace numa_agent::pool
