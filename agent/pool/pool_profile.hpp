// The profile's "pools" section (agent/PROFILE_SCHEMA.md), from a pool allocator's counters.
#pragma once
#include <nlohmann/json.hpp>

#include "pool_allocator.hpp"

namespace numa_agent::pool {

// One "counters" object: allocations served, fall-throughs by cause, frees, spans, samples.
nlohmann::json counters_json(const HeapCounters& counters);
// The section of started pools: totals, per node, per heap (the first 256), sampled sites.
// Allocates while it walks; see PoolAllocator::for_each_heap for why that is safe.
nlohmann::json started_pools_json(PoolAllocator& pool);

}  // namespace numa_agent::pool
