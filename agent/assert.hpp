// NUMA_AGENT_ASSERT(condition): an internal invariant of the agent (like tcmalloc's TC_ASSERT or
// mimalloc's mi_assert_internal). Checked when NUMA_AGENT_ASSERTS is 1: debug builds (no NDEBUG)
// and the sanitizer trees (scripts/sanitize sets it). Release builds compile it out: the condition
// is type-checked but never evaluated, so the allocator's fast path is the same code with or
// without the assertions written in it. A failure writes one line to stderr without allocating
// (it may fire inside malloc) and aborts.
#pragma once

#ifndef NUMA_AGENT_ASSERTS
#ifdef NDEBUG
#define NUMA_AGENT_ASSERTS 0
#else
#define NUMA_AGENT_ASSERTS 1
#endif
#endif

namespace numa_agent {
[[noreturn, gnu::cold, gnu::noinline]] void assertion_failed(const char* condition, const char* file, int line);
}  // namespace numa_agent

#if NUMA_AGENT_ASSERTS
#define NUMA_AGENT_ASSERT(condition) \
  (__builtin_expect(!!(condition), 1) ? (void)0 : ::numa_agent::assertion_failed(#condition, __FILE__, __LINE__))
#else
#define NUMA_AGENT_ASSERT(condition) ((void)sizeof(!(condition)))
#endif
