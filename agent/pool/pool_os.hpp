// The few OS services the pool core needs, as a table of functions, so that the core can be run
// against a fake machine in tests (2 or 4 nodes on a 1-node host) while production uses agent/os.
// Every function must be malloc-safe: they are called from the allocator's slow path.
#pragma once
#include <cstddef>

namespace numa_agent::pool {

struct PoolOs {
  void* (*reserve)(std::size_t bytes, std::size_t alignment) = nullptr;  // PROT_NONE, nullptr on failure
  int (*commit)(void* addr, std::size_t bytes) = nullptr;                // 0 or -errno
  int (*decommit)(void* addr, std::size_t bytes) = nullptr;              // give the pages back
  int (*bind)(void* addr, std::size_t bytes, int os_node) = nullptr;     // prefer os_node; 0 or -errno
  int (*release)(void* addr, std::size_t bytes) = nullptr;               // unmap (tests only)
  void* (*map)(std::size_t bytes) = nullptr;                             // read/write side table
  int (*current_cpu)() = nullptr;                                        // -1 when unknown
  int (*current_tid)() = nullptr;
  // Return addresses of the caller's stack, innermost first; may be null (no sampling).
  int (*backtrace)(void** frames, int max) = nullptr;
};

// The functions of agent/os.
const PoolOs& production_pool_os();

}  // namespace numa_agent::pool
