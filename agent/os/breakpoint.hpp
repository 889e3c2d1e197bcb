// Hardware watchpoints (x86 debug registers) through perf_event_open(PERF_TYPE_BREAKPOINT): the OS
// half of numa-analyze's PMU-less access sampling (analyzer/evidence/watchpoint_sampler.hpp drives
// it). Contract: os.hpp (thin, stateless, never logs, -errno or Result).
//
// A probe is one-shot: opened disabled, armed with PERF_EVENT_IOC_REFRESH 1, it records one
// PERF_RECORD_SAMPLE on the first read or write of its 8-byte word by its thread and disables
// itself, so a hot word costs one trap, never one per access. It is re-aimed either with
// PERF_EVENT_IOC_MODIFY_ATTRIBUTES (cheap where the kernel gets it right) or by closing and
// reopening it; breakpoint_self_test() decides which on the running kernel (on 6.18 MODIFY leaves
// the debug register armed while perf stops counting: every access traps and nothing is recorded).
// All probes of one thread write into one ring owned by a disabled software dummy event of that
// thread (PERF_EVENT_IOC_SET_OUTPUT), so a reopen does not map a new ring.
#pragma once
#include <cstddef>
#include <cstdint>

#include "os.hpp"
#include "perf_event.hpp"

namespace numa_agent::os {

// sample_type of every probe: IP | TID | TIME | ADDR | CPU (the kernel's values; breakpoint.cpp
// checks them). ADDR is the watched word; TIME is CLOCK_MONOTONIC (os::monotonic_ns's clock).
inline constexpr std::uint64_t kBreakpointSampleType = (1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 3) | (1ULL << 7);
inline constexpr std::size_t kBreakpointLength = 8;   // bytes watched (HW_BREAKPOINT_LEN_8)

// The ring a thread's probes write into: a disabled dummy software event on `tid` plus its mapping.
struct BreakpointRing {
  int fd = -1;
  PerfRing ring;
};
// perf_event_open(PERF_COUNT_SW_DUMMY, tid) + mmap of `data_pages` (a power of two) data pages.
Result<BreakpointRing> breakpoint_ring_open(int tid, std::size_t data_pages);
int breakpoint_ring_close(BreakpointRing& ring);   // munmap + close: 0 or first -errno

// A read/write watchpoint on the 8-byte word at `addr` (8-aligned) in thread `tid`, opened
// disabled, writing its samples into `ring_fd`'s ring: fd or -errno (ENOENT/EINVAL: no breakpoint
// PMU, EACCES/EPERM: no permission on tid, ENOSPC: no free debug register, ESRCH: tid gone).
int breakpoint_open(int tid, std::uint64_t addr, int ring_fd);
// PERF_EVENT_IOC_REFRESH 1: armed for exactly one hit. 0 or -errno.
int breakpoint_arm(int fd);
// PERF_EVENT_IOC_MODIFY_ATTRIBUTES to `addr` (left disabled; arm it again). 0 or -errno.
int breakpoint_modify(int fd, std::uint64_t addr);

// What breakpoint_self_test() found on this kernel, on a thread of the calling process that
// touches words of its own.
struct BreakpointSelfTest {
  bool modify_works = false;      // MODIFY + REFRESH counted exactly one hit and left no trap armed
  std::uint64_t modify_hits = 0;  // hits counted after the re-aim (1 when it works)
  double modify_loop_ratio = 0;   // touch loop after MODIFY / the same loop unwatched (~1 when it works, >1000 when not)
  double trap_ns = 0;             // cost of one hit to the watched thread
  double reopen_ns = 0;           // close + open + arm, per probe, of a running thread (IPIs included)
  double modify_ns = 0;           // modify + arm, per probe, of a running thread (0 when modify does not work)
};
// Fails with the errno of the first refused call (no breakpoint PMU, no permission).
Result<BreakpointSelfTest> breakpoint_self_test();
// Whether a breakpoint can be opened now, on a word of the calling thread (opened and closed at
// once, never armed): what a cached self-test does not prove (a seccomp filter, a changed
// capability). Fails as breakpoint_self_test() does on its first probe.
Result<void> breakpoint_available();

}  // namespace numa_agent::os
