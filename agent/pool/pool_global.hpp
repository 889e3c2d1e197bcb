// The process's one pool allocator and the calling thread's heap, for the LD_PRELOAD shim
// (interpose/malloc.cpp) and the runtime glue (pool_runtime.cpp). Tests use their own instances.
#pragma once
#include "pool_allocator.hpp"

namespace numa_agent::pool {

// Unavoidable process-wide state of an LD_PRELOAD allocator: constant-initialised, never destroyed
// (allocations from static destructors and atexit handlers after the profile still work).
extern constinit PoolAllocator g_pool;
// Initial-exec TLS: two instructions to reach, no lazy TLS allocation on first access. Starts as
// &g_detached_heap; becomes the thread's heap at its first pool allocation; &g_exited_heap after
// the thread's exit handler abandoned it.
extern __thread Heap* tl_heap __attribute__((tls_model("initial-exec")));

}  // namespace numa_agent::pool
