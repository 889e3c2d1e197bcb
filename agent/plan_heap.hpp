// The agent's side of a placement plan: large allocations of planned sites get memory the agent
// maps itself (a PROT_NONE reservation carved into page-aligned blocks) with the site's memory
// policy set before the first touch. Everything here is inactive, one relaxed load and a branch in
// the shim's large-allocation path, until install() succeeded.
//
// A call site is the return address of the allocation call. install() resolves the plan's module
// (by build-id) once and turns every site's file-offset range into this run's address range, so
// matching a request is a scan of a few address ranges: no lock, no syscall, no allocation.
// Allocating a planned block takes a spin lock and makes three syscalls (mprotect, mbind per
// policy range); that is the price of blocks large enough to plan (the plan's size_min).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "options.hpp"
#include "os/os.hpp"
#include "plan.hpp"

namespace numa_agent::plan {

// True once a plan is installed (and until mbind is refused: then planned allocation stops).
extern constinit std::atomic<bool> g_active;

// Installs `plan` against the objects loaded in this process. Fails (one line, nothing installed)
// when no loaded object has the plan's build-id, the plan has more sites or parts than the agent
// holds, or the address space cannot be reserved. An empty plan installs nothing and succeeds.
// Returns the number of sites installed. Start-up only (allocates); not thread-safe.
Result<std::size_t> install(const Plan& plan, std::span<const os::LoadedModule> modules);
// Reads, parses and installs NUMA_AGENT_PLAN's file; every failure is one warning line on stderr
// (under NUMA_AGENT_LOG >= warn) and no plan. `info` lines say what was installed.
void load_plan_file(const std::string& path, LogLevel log);

// A planned block for `n` bytes requested from `call_site` (aligned to `alignment`, a power of
// two; zero-filled when `zeroed`), or nullptr when the site is not planned or the block cannot be
// made (the caller then uses the real allocator). [malloc-safe]
void* allocate(std::size_t n, std::size_t alignment, const void* call_site, bool zeroed = false);
// A planned block for `n` bytes with the policy of planned block `p`'s site (realloc growing it),
// or nullptr when `n` is outside the site's sizes or the plan is off. [malloc-safe]
void* allocate_like(const void* p, std::size_t n);
// Whether `p` is inside the plan's reservation (then only release/usable_bytes apply to it).
[[gnu::always_inline]] inline bool owns(const void* p);
void release(void* p);                  // [malloc-safe]
std::size_t usable_bytes(const void* p);  // [malloc-safe]

// What the plan did so far (for the profile and NUMA_AGENT_LOG=info at exit).
struct Stats {
  std::uint64_t sites = 0;          // installed
  std::uint64_t blocks = 0;         // planned blocks handed out (new or reused)
  std::uint64_t reused = 0;         // of which from a site's freed blocks
  std::uint64_t bytes = 0;          // their requested bytes
  std::uint64_t refused = 0;        // mbind refusals (the plan then stops)
};
Stats stats();

// ---- inline: the reservation's bounds, set once by install() ---------------------------------
extern constinit std::uintptr_t g_reservation_start;
extern constinit std::uintptr_t g_reservation_bytes;
inline bool owns(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) - g_reservation_start < g_reservation_bytes;
}

}  // namespace numa_agent::plan
