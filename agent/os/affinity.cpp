// Affinity, identity and clocks.
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "os.hpp"

namespace numa_agent::os {
namespace {
CpuSet from_kernel(const cpu_set_t& k) {
  CpuSet s;
  for (int c = 0; c < CPU_SETSIZE && c < CpuSet::kMaxCpus; ++c)
    if (CPU_ISSET(c, &k)) s.add(c);
  return s;
}
}  // namespace

CpuSet process_allowed_cpus() {
  cpu_set_t k;
  CPU_ZERO(&k);
  if (sched_getaffinity(0, sizeof k, &k) != 0) return CpuSet{};
  return from_kernel(k);
}

int set_current_thread_affinity(const CpuSet& cpus) { return set_thread_affinity(0, cpus); }

int set_thread_affinity(int tid, const CpuSet& cpus) {
  cpu_set_t k;
  CPU_ZERO(&k);
  for (int c = cpus.first(); c >= 0; c = cpus.next(c))
    if (c < CPU_SETSIZE) CPU_SET(c, &k);
  return sched_setaffinity(tid, sizeof k, &k) == 0 ? 0 : -errno;
}

Result<CpuSet> thread_affinity(int tid) {
  cpu_set_t k;
  CPU_ZERO(&k);
  if (sched_getaffinity(tid, sizeof k, &k) != 0)
    return fail(errno, "sched_getaffinity(" + std::to_string(tid) + ")");
  return from_kernel(k);
}

bool thread_attr_sets_affinity(const pthread_attr_t* attr) {
  if (!attr) return false;
  cpu_set_t k;
  // glibc reports an all-ones set for an attribute without affinity.
  if (pthread_attr_getaffinity_np(attr, sizeof k, &k) != 0) return false;
  return CPU_COUNT(&k) != CPU_SETSIZE;
}

int register_fork_handlers(void (*prepare)(), void (*parent)(), void (*child)()) {
  return -pthread_atfork(prepare, parent, child);
}

int current_cpu() { return sched_getcpu(); }
int current_tid() { return static_cast<int>(syscall(SYS_gettid)); }
int current_pid() { return static_cast<int>(getpid()); }

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace numa_agent::os
