// Where a sampled memory access was served, from the accessing CPU's point of view: the classes
// `perf mem` / `perf c2c` use. The recorder classifies PMU data sources into these
// (evidence/perf_records.hpp); a recording stores them by name (AccessBucket::mem_class).
#pragma once
#include <string_view>

namespace numa_agent::analyzer {

enum class MemClass {
  Unknown,          // no data source (N/A), or an op that is not a load or store
  LocalCache,       // L1/L2/L3/LFB of the accessing node
  LocalHitm,        // local cache hit on a modified line of another core
  LocalDram,        // DRAM (or PMEM/CXL) of the accessing node
  RemoteDram,       // DRAM of another node
  RemoteCache,      // another node's cache, clean (c2c rmt_hit)
  RemoteHitm,       // another node's cache, modified line (c2c rmt_hitm)
  Uncached,         // uncached or I/O
};
std::string_view mem_class_name(MemClass c);
// The class named `name` (mem_class_name's inverse); Unknown for any other text ("fault" included).
MemClass parse_mem_class(std::string_view name);
inline bool is_remote(MemClass c) {
  return c == MemClass::RemoteDram || c == MemClass::RemoteCache || c == MemClass::RemoteHitm;
}

}  // namespace numa_agent::analyzer
