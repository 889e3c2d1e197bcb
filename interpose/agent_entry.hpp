// The shim's single runtime instance. An LD_PRELOAD library has exactly one per process; every
// interposed function reaches it through agent_runtime() (nullptr until the constructor ran).
#pragma once
#include <atomic>
#include <cstddef>

#include "agent/runtime.hpp"

namespace numa_agent::shim {
AgentRuntime* agent_runtime();

// While the runtime waits for the first allocation the pools would serve (issue 16: a process
// that never makes one never reads the machine), the largest such size plus one; else 0. The
// allocator's real-allocator path calls allocation_starts_runtime(): one relaxed load. Larger
// requests do not start it (libstdc++'s emergency exception pool, 73 KiB, is allocated by every
// process at load time).
extern constinit std::atomic<std::size_t> g_start_below_bytes;
void start_from_allocation() noexcept;
[[gnu::always_inline]] inline void allocation_starts_runtime(std::size_t bytes) {
  if (__builtin_expect(bytes < g_start_below_bytes.load(std::memory_order_relaxed), 0)) start_from_allocation();
}
}  // namespace numa_agent::shim
