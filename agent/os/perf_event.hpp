// perf_event_open, its ring buffer and the sysfs files that describe PMUs: the OS half of
// numa-analyze's sampling. Follows the contract in os.hpp (thin, stateless, never logs or throws,
// -errno / Result). Decoding of the bytes read here is pure code in analyzer/perf_records.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "os.hpp"

namespace numa_agent::os {

// The subset of struct perf_event_attr that numa-analyze sets. Numeric values are the kernel ABI
// (analyzer/perf_abi.hpp names them; perf_event.cpp checks they match <linux/perf_event.h>).
struct PerfEventSpec {
  std::uint32_t type = 0;
  std::uint64_t config = 0;
  std::uint64_t config1 = 0;
  std::uint64_t config2 = 0;
  std::uint64_t sample_period = 0;   // or frequency when `freq`
  bool freq = false;
  std::uint64_t sample_type = 0;
  bool disabled = false;
  bool inherit = false;
  bool enable_on_exec = false;
  bool exclude_kernel = false;
  bool exclude_hv = false;
  bool task = false;                 // PERF_RECORD_FORK/EXIT
  bool comm = false;                 // PERF_RECORD_COMM
  int precise_ip = 0;
  int clockid = -1;                  // >= 0: timestamps from this clock (use_clockid)
  bool exclude_callchain_kernel = false;
  std::uint16_t sample_max_stack = 0;   // > 0: at most this many callchain entries
  std::uint32_t wakeup_watermark = 0;   // > 0: the fd polls readable once this many ring bytes wait
};

// perf_event_open(spec, pid, cpu, group_fd=-1, PERF_FLAG_FD_CLOEXEC): fd or -errno.
int perf_event_open(const PerfEventSpec& spec, int pid, int cpu);
int monotonic_clock_id();         // CLOCK_MONOTONIC, for PerfEventSpec::clockid
int perf_event_enable(int fd);    // 0 or -errno
int perf_event_disable(int fd);   // 0 or -errno
// Value of a counting event (read(2) with the default read_format).
Result<std::uint64_t> perf_event_read_count(int fd);
int close_fd(int fd);             // 0 or -errno

// A mapped sampling ring buffer: one metadata page plus 2^n data pages.
struct PerfRing {
  void* base = nullptr;
  std::size_t mapped_bytes = 0;
  std::size_t data_bytes = 0;
};
// mmap(fd) with `data_pages` (a power of two) data pages.
Result<PerfRing> perf_ring_map(int fd, std::size_t data_pages);
int perf_ring_unmap(PerfRing& ring);
// Appends every complete byte now in the ring to `out` (unwrapping the circular buffer) and hands
// the space back to the kernel. Returns the number of bytes appended.
std::size_t perf_ring_drain(const PerfRing& ring, std::string& out);

// ---- sysfs / procfs descriptions of the perf subsystem ----------------------------------------
// Names under /sys/bus/event_source/devices (software, tracepoint, cpu, ibs_op, ...).
Result<std::vector<std::string>> pmu_names();
// /proc/sys/kernel/perf_event_paranoid.
Result<int> perf_event_paranoid();

}  // namespace numa_agent::os
